"""language_model: next-event prediction. Text -> the next character or word; generate text.

text -> token ids (:class:`LanguageModelPreprocessor`) -> Embedding -> recurrent layers
(stateful in training, stackable) -> the prediction head -> softmax over the vocabulary at every
step. A long text is trained with truncated backpropagation through time: ``train.batch_size``
contiguous streams side by side, cut into windows of ``train.bptt`` steps, the hidden state
carried from one window to the next and reset at the start of every epoch and evaluation.
Examples are the lines of the text; held-out text is cut from its end. Generation and the
stream scoring of the test metrics run inside the graph (:mod:`seqtasks.generation`).
"""

from seqtasks.config import Key, Unsupported, Variant, fraction, positive
from seqtasks.errors import DataError
from seqtasks.recipes import register
from seqtasks.recipes.base import Example, Recipe


@register
class LanguageModel(Recipe):
    name = "language_model"
    # The training text streams its own way: one text cut into stateful windows (see
    # :meth:`adapt`); under multi_worker each worker reads the part of the text its streams
    # cover (see :meth:`share_range`).
    description = "next-event prediction: text -> the next character or word; generate text"
    schema_extra = {
        "data": {
            "level": Key("char", (str,), "tokens: characters or words", ("char", "word")),
            "lowercase": Key(False, (bool,), "lowercase the text"),
            "max_tokens": positive(20000, "largest vocabulary (unknown token included)"),
            "min_count": Key(1, (int,), "tokens seen fewer times in training are unknown"),
            "test_fraction": fraction(0.1, "without data.test: the last share of the text is "
                                      "the test text"),
            "held_out_limit": positive(1_000_000, "most characters of the text's end held out "
                                       "per missing validation or test split"),
        },
        "model": {"units": 256, "hidden_units": 256,
                  "bidirectional": Unsupported("a language model reads left to right")},
        "train": {
            "epochs": positive(20, "number of passes over the training text"),
            "batch_size": positive(32, "parallel streams of the text (stateful training)"),
            "bptt": positive(100, "steps per window of truncated backpropagation through time; "
                             "the state is carried across windows"),
            "learning_rate": 0.002,
            "reduce_lr_patience": 1,
            "bucketing": Unsupported("training reads windows of train.bptt tokens"),
        },
        "generate": {
            "length": positive(200, "tokens generated per prompt by the export's default"),
            "temperature": Key(0.8, (float,), "sampling temperature; 0 is greedy",
                               bounds="non-negative"),
            "top_k": Key(0, (int,), "sample among the k most probable tokens; 0: all",
                         bounds="non-negative"),
            "seed": Key(0, (int,), "seed of the sampling"),
        },
    }
    #: Word-level defaults (``data.level = "word"``); README, "Word-level language models",
    #: gives the reason for each and the runs they come from.
    variants = (Variant(("data", "level", "word"), {
        "model": {"embedding_dim": 256, "dropout": 0.25},
        "train": {"bptt": 35, "epochs": 8},
    }),)
    #: Tokens per call of the ``score`` signature when a text is scored.
    chunk = 1024
    #: Lines generated from the first test token by :meth:`score`, shown by :meth:`report`.
    sample = ""

    # ----- reading -----------------------------------------------------------------------
    def builtin_splits(self, seed):
        from seqtasks.recipes.translation import builtin as translation

        lines = [source + "\n" for source, _ in translation.generate(4000, seed)]
        return {"train": [Example(line, None, f"built-in text:{i}")
                          for i, line in enumerate(lines, 1)]}

    def read_file(self, path, split):
        """The lines of a text file, one ``Example`` each, read as they are taken."""
        from seqtasks.data.readers import iter_lines

        for i, line in enumerate(iter_lines(path), 1):
            yield Example(line, None, f"{path}:{i}")

    def read_examples(self, spec, split):
        examples = super().read_examples(spec, split)
        if not any(e.input.strip() for e in examples):
            raise DataError(f"{spec}: no text found")
        return examples

    def tfds_examples(self, rows, info, where):
        from seqtasks.data.readers import decoded

        texts = [decoded(row["text"]) for row in rows]  # joined by newlines
        return [Example(text + "\n" * (i < len(texts) - 1), None, f"{where}[{i}]")
                for i, text in enumerate(texts)]

    def carve_fraction(self, split):
        return self.config["data"]["test_fraction" if split == "test" else "validation_fraction"]

    def load_splits(self):
        """``{split: examples}``: the training text as a stream of lines
        (:class:`~seqtasks.data.stream.Stream`), given held-out texts in memory. Missing
        held-out texts are cut from the end of the training text by :meth:`adapt`'s pass."""
        from seqtasks.data.stream import Stream

        data = self.config["data"]
        if data["train"] is None:
            self._check_builtin_only()
            return {"train": Stream.of(self.builtin_splits(self.config["train"]["seed"])
                                       ["train"], "built-in data")}
        return {"train": self.source_stream(data["train"], "train"),
                **{s: self.read_examples(data[s], s)
                   for s in ("validation", "test") if data[s] is not None}}

    # ----- data --------------------------------------------------------------------------
    def make_preprocessor(self):
        from seqtasks.recipes.language_model.preprocessor import LanguageModelPreprocessor

        data = self.config["data"]
        return LanguageModelPreprocessor(data["level"], data["lowercase"], data["max_tokens"],
                                         data["min_count"], name="preprocessor")

    def adapt(self, splits):
        """One pass over the training text: counts its tokens (the vocabulary) and holds out
        the missing validation and test texts from its end (:class:`.data.TextTail`: the last
        ``fraction`` of the characters, at most ``data.held_out_limit`` each, a line cut where
        a share starts). The training text is then the stream's prefix before them
        (:class:`.data.TextPrefix`)."""
        from seqtasks.progress import Progress
        from seqtasks.recipes.language_model.data import TextPrefix, TextTail

        data, stream = self.config["data"], splits["train"]
        missing = {s: self.carve_fraction(s) for s in ("test", "validation") if s not in splits}
        tail = TextTail(missing, data["held_out_limit"])
        text_seen = []

        def observed(progress):
            for example in progress.wrap(stream):
                if not text_seen and example.input.strip():
                    text_seen.append(True)
                yield example

        preprocessor = self.make_preprocessor()
        progress = Progress(f"reading {self.describe('train')}", unit="lines")
        preprocessor.adapt(tail.training_lines(observed(progress)))
        if not text_seen:
            raise DataError(f"{self.describe('train')}: no text found")
        for split, held in tail.held.items():
            if not held or not tail.train_chars:
                raise self._too_few(tail.total_lines, split)
        splits.update(tail.held)
        splits["train"] = TextPrefix(stream, tail.train_chars, tail.train_lines)
        self._check_not_empty(splits)
        self.held_out, self.token_counts = tail.held, {}
        self.preprocessor, self.splits = preprocessor, splits
        return preprocessor

    def data_state(self):
        """What :meth:`adapt` learned: the vocabulary, the held-out texts cut from the end,
        the training part's size and the token marks that let a worker skip to its share."""
        import keras

        train, p = self.splits["train"], self.preprocessor
        return {"preprocessor": keras.saving.serialize_keras_object(p),
                "held_out": {s: list(e) for s, e in self.held_out.items()},
                "train": (train.chars, train.count), "token_count": p.token_count,
                "token_marks": [tuple(m) for m in p.token_marks],  # not the layer's list
                "summary": self.summary,
                "warnings": self.warnings}

    def restore_data(self, splits, state):
        from seqtasks.recipes.language_model.data import TextPrefix

        splits.update(state["held_out"])
        splits["train"] = TextPrefix(splits["train"], *state["train"])
        self.held_out, self.token_counts = state["held_out"], {}
        self.preprocessor = self.restored_preprocessor(state)
        self.preprocessor.token_count = state["token_count"]
        self.preprocessor.token_marks = [tuple(m) for m in state["token_marks"]]
        self.splits, self.warnings = splits, list(state["warnings"])
        self.restored_summary = state["summary"]

    def train_share(self):
        return self.splits["train"]  # a worker's share is a range of tokens: see dataset()

    def share_range(self):
        """``(name, start, stop)``: this worker's share of the training text, the tokens
        ``[start, stop)`` its ``train.batch_size`` streams of the cluster's read (see
        :func:`.streams.tbptt_windows`; the last token is the next one's
        target), and the name of its ids file."""
        from seqtasks.distribute import role

        me = role(self.config["train"]["strategy"])
        streams = self.config["train"]["batch_size"]
        per_stream = max(self.preprocessor.token_count - 1, 0) // (streams * me.workers)
        start = me.index * streams * per_stream
        return f"train-{me.index}-of-{me.workers}", start, start + streams * per_stream + 1

    def dataset(self, split, examples):
        """Batches of windows of ``train.batch_size`` streams (per worker) x ``train.bptt``
        steps, in order. The ids are in memory, or (the training text when ``data.cache``
        says disk, see :meth:`cache_mode`) in a file under the cache folder, read a window at
        a time."""
        import tensorflow as tf

        from seqtasks.recipes.language_model.preprocessor import joined_ids
        from seqtasks.recipes.language_model.streams import tbptt_windows, window_dataset

        bptt, p = self.config["train"]["bptt"], self.preprocessor
        own = split == "train" and self.reads_share()
        if own:
            name, start, stop = self.share_range()
            pieces = p.share_ids(examples, start, stop, p.token_marks)
        else:
            name, pieces = split, p.id_chunks(examples)
        on_disk = split == "train" and self.cache_mode(split, examples) != "memory"
        ids = self._ids_on_disk(name, pieces) if on_disk else joined_ids(pieces)
        self.token_counts[split] = p.token_count if own else len(ids)
        streams = self.config["train"]["batch_size"] if own else self.global_batch_size()
        try:
            if on_disk:
                return window_dataset(ids, streams, bptt)
            return tf.data.Dataset.from_tensor_slices(tbptt_windows(ids, streams, bptt))
        except ValueError as e:
            where = next(iter(examples)).where
            raise DataError(f"{where} ({split} text): {e}; use a smaller train.batch_size or "
                            "train.bptt, or more text") from None

    def _ids_on_disk(self, name, pieces):
        """``pieces`` (int32 id arrays) written to ``<cache folder>/<name>.ids`` in one pass,
        memory-mapped. A file a killed run finished is reused (written whole, then renamed)."""
        import os

        import numpy as np

        from seqtasks.data.pipeline import cache_folder
        from seqtasks.progress import Progress

        path = cache_folder(self.cache_dir) / f"{name}.ids"
        if not path.exists():
            partial = path.with_name(path.name + ".partial")
            progress = Progress(f"encoding {self.describe('train')}", unit="tokens")
            with open(partial, "wb") as f:
                for ids in pieces:
                    ids.tofile(f)
                    progress.add(len(ids))
            progress.done()
            os.replace(partial, path)
        if not path.stat().st_size:
            return np.zeros([0], np.int32)
        return np.memmap(path, np.int32, "r")

    def batch(self, dataset, split):
        """``dataset`` as it is: each element is a batch already (the next window of every
        stream), a worker's own when it read its share."""
        from seqtasks.distribute import per_worker

        return per_worker(dataset) if split == "train" and self.reads_share() else dataset

    def data_summary(self, splits, datasets):
        return {"tokens": {s: self.token_counts[s] for s in splits},
                "windows": {s: int(d.cardinality()) for s, d in datasets.items()}}

    # ----- model -------------------------------------------------------------------------
    def network(self, stateful=True):
        """The stateful training network on windows of ids (fixed batch shape), or a stateless
        one on any ids whose recurrent layers also return their states (inference)."""
        import keras

        from seqtasks.layers import PredictionHead, backbone

        model, train = self.config["model"], self.config["train"]
        size = self.preprocessor.vocabulary_size
        ids = keras.Input(dtype="int32", name="ids", **(
            {"batch_shape": (train["batch_size"], train["bptt"])} if stateful else
            {"shape": (None,)}))
        # id 0 is the unknown token, not padding: one stream has none
        x = backbone(ids, size, model, mask_zero=False, embedding_dropout=False, name="rnn",
                     stateful=stateful, return_state=not stateful)
        head = PredictionHead(size, model["hidden_units"], dropout=model["dropout"], name="head")
        return keras.Model(ids, head(x), name=self.name)

    def metrics(self):
        import keras

        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")], ()

    def callbacks(self):
        from seqtasks.recipes.language_model.streams import reset_states_callback

        return [reset_states_callback()]

    def diagnostic(self, model, datasets):
        """The embedded first window of every training stream, and the next token after its
        last step: the gradient is taken at the embedding output (ids are not differentiable),
        the recurrent layers starting from a zero state."""
        from seqtasks.generation import parts
        from seqtasks.recipes.language_model.streams import reset_states

        _, embedding, rnns, head = parts(model)
        ids, targets = next(iter(datasets["train"]))

        def forward(x, training=False):
            reset_states(model)
            for rnn in rnns:
                x = rnn(x, training=training)
            reset_states(model)  # leave no state behind for later training or evaluation
            return head(x[:, -1], training=training)

        return forward, embedding(ids), targets[:, -1]

    # ----- export and metrics ------------------------------------------------------------
    def inference_network(self, model):
        """A :class:`~seqtasks.generation.TextGenerator` on a stateless copy of ``model``,
        drawing with the ``[generate]`` options. The other signatures generate and score with
        its layers."""
        from seqtasks.generation import TextGenerator

        reader = self.network(stateful=False)
        reader.set_weights(model.get_weights())
        return TextGenerator(reader, **self.config["generate"], name="generator")

    def postprocess(self, outputs, inputs):
        return {"text": self.preprocessor.continued(inputs["prompt"], *outputs)}

    def extra_endpoints(self, inference_model):
        from seqtasks.generation import signatures

        return signatures(inference_model)

    def export_assets(self):
        data = self.config["data"]
        return {"level": data["level"], "lowercase": data["lowercase"],
                "vocabulary": self.require_preprocessor("export_assets").vocabulary,
                "generate": dict(self.config["generate"])}

    def score(self, signatures, examples, metadata):
        """``loss`` (nats per token), ``perplexity``, ``accuracy`` (and ``bits_per_char``) of
        predicting every token of the text after its first from all that precedes it: the
        text read as one stream, :attr:`chunk` tokens per call of the ``score`` signature, the
        state carried from each call to the next. No token is dropped and only the first
        starts from a zero state, so the score does not depend on ``train.batch_size`` or
        ``train.bptt``."""
        import math

        import tensorflow as tf

        from seqtasks.recipes.language_model.preprocessor import split_tokens
        from seqtasks.scoring import Scored

        tokens = split_tokens("".join(e.input for e in examples), metadata["level"],
                              metadata["lowercase"])
        if len(tokens) < 2:
            raise DataError(f"{examples[0].where}: fewer than 2 tokens, nothing to score")
        state, log_likelihood, correct = tf.zeros([1, 0]), 0.0, 0
        for start in range(0, len(tokens) - 1, self.chunk):
            out = signatures["score"](tokens=tf.constant([tokens[start:start + self.chunk + 1]]),
                                      state=state)
            state = out["state"]
            log_likelihood += float(out["log_likelihood"][0])
            correct += int(out["correct"][0])
        loss = -log_likelihood / (len(tokens) - 1)
        metrics = {"loss": round(loss, 6), "perplexity": round(math.exp(loss), 4),
                   "accuracy": round(correct / (len(tokens) - 1), 6)}
        if metadata["level"] == "char":
            metrics["bits_per_char"] = round(loss / math.log(2), 6)
        sample = signatures["serving_default"](
            prompt=tf.constant(tokens[:1]))["text"].numpy()[0].decode("utf-8")
        return Scored(metrics, samples=[{"sample": sample}])

    def prediction_inputs(self, path):
        """One prompt per line of a text file (without its line break), streamed."""
        from seqtasks.data.readers import iter_lines

        for i, line in enumerate(iter_lines(path), 1):
            yield f"{path}:{i}", {"prompt": line.rstrip("\r\n")}

    @classmethod
    def format_prediction(cls, inputs, outputs):
        return [t.decode("utf-8") for t in outputs["text"]]
