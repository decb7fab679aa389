"""language_model: next-event prediction. Text -> the next character or word; generate text.

text -> token ids (:class:`LanguageModelPreprocessor`) -> Embedding -> recurrent layers
(stateful in training, stackable) -> the prediction head -> softmax over the vocabulary at every
step. A long text is trained with truncated backpropagation through time: ``train.batch_size``
contiguous streams side by side, cut into windows of ``train.bptt`` steps, the hidden state
carried from one window to the next and reset at the start of every epoch and evaluation.
Examples are the lines of the text; held-out text is cut from its end. Generation and the
stream scoring of the test metrics run inside the graph (:mod:`seqtasks.generation`).
"""

from seqtasks.config import Key, Unsupported, Variant, fraction, positive, subword_keys
from seqtasks.errors import DataError
from seqtasks.recipes import register
from seqtasks.recipes.base import Recipe
from seqtasks.recipes.language_model.data import LanguageModelReader


@register
class LanguageModel(Recipe):
    """Next-event prediction: text -> the next character or word; generation. Stateful
    training with truncated backpropagation through time; test metrics: perplexity, accuracy
    and bits per character, the text scored as one stream.

    Example: ``seqtasks.run("language_model", {"data.train": "input.txt"})``."""
    name = "language_model"
    # The training text streams its own way: one text cut into stateful windows (see
    # :meth:`adapt`); under multi_worker each worker reads the part of the text its streams
    # cover (see :meth:`share_range`).
    description = "next-event prediction: text -> the next character or word; generate text"
    schema_extra = {
        "data": {
            "tokenizer": Key("char", (str,), "tokens: characters, words or subwords "
                             "(SentencePiece pieces learned from the training text)",
                             ("char", "word", "subword")),
            **subword_keys(),
            "line_ends": Key("token", (str,), "word and subword levels: each line end is a token, "
                             "predicted and generated like a word (token), or a space "
                             "(ignore)", ("token", "ignore")),
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
    #: Word-level defaults (``data.tokenizer = "word"``); README, "Word-level language models",
    #: gives the reason for each and the runs they come from.
    variants = tuple(Variant(("data", "tokenizer", level), {
        "model": {"embedding_dim": 256, "dropout": 0.25},
        "train": {"bptt": 35, "epochs": 8},
    }) for level in ("word", "subword"))
    reader_cls = LanguageModelReader
    #: The export's signatures: ``{name: (inputs, outputs)}``, each ``{key: "dtype [shape]:
    #: meaning"}`` (checked against the export by the contract test; shown in the reference).
    documented_signatures = {
        "serving_default": ({"prompt": "string [batch]: prompts"},
                            {"text": "string [batch]: each prompt and its continuation of "
                                     "generate.length tokens"}),
        "generate": ({"prompt": "string [batch]: prompts",
                      "length": "int32 []: tokens to generate",
                      "temperature": "float32 []: sampling temperature; 0 is greedy",
                      "top_k": "int32 []: sample among the k most probable; 0: all",
                      "seed": "int32 []: seed of the sampling"},
                     {"text": "string [batch]: each prompt and its continuation"}),
        "score": ({"tokens": "string [batch, steps]: tokens of a text",
                   "state": "float32 [batch, state]: the state to start from ([batch, 0]: "
                            "zeros)"},
                  {"log_likelihood": "float64 [batch]: summed log-probability of each token "
                                     "after the first",
                   "correct": "int32 [batch]: tokens predicted right",
                   "state": "float32 [batch, state]: the state after the last token"})}
    #: Tokens per call of the ``score`` signature when a text is scored.
    chunk = 1024
    #: Lines generated from the first test token by :meth:`score`, shown by :meth:`report`.
    sample = ""

    # ----- data --------------------------------------------------------------------------
    def make_preprocessor(self):
        from seqtasks.recipes.language_model.preprocessor import LanguageModelPreprocessor

        data = self.config["data"]
        return LanguageModelPreprocessor(data["tokenizer"], data["lowercase"], data["max_tokens"],
                                         data["min_count"], line_ends=data["line_ends"],
                                         subwords=(data["subword_vocab_size"],
                                                   data["subword_type"]),
                                         name="preprocessor")

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
        self.__dict__.setdefault("token_counts", {})[split] = p.token_count if own else len(ids)
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
            progress = Progress(f"encoding {self.reader.describe('train')}", unit="tokens")
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
    def network(self):
        return self.recurrent_network(stateful=True)

    def recurrent_network(self, stateful):
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

        reader = self.recurrent_network(stateful=False)
        reader.set_weights(model.get_weights())
        return TextGenerator(reader, **self.config["generate"], name="generator")

    def postprocess(self, outputs, inputs):
        return {"text": self.preprocessor.continued(inputs["prompt"], *outputs)}

    def extra_endpoints(self, inference_model):
        from seqtasks.generation import signatures

        return signatures(inference_model)

    def export_assets(self):
        data = self.config["data"]
        return {"level": data["tokenizer"], "lowercase": data["lowercase"],
                "line_ends": data["line_ends"],
                "subword_model": self.require_preprocessor("export_assets").subword_model,
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

        from seqtasks.layers.tokens import SPACE
        from seqtasks.recipes.language_model.preprocessor import split_tokens
        from seqtasks.scoring import Scored

        text = "".join(e.input for e in examples)
        line_ends = metadata.get("line_ends", "ignore")
        tokens = split_tokens(text, metadata["level"], metadata["lowercase"], line_ends,
                              metadata.get("subword_model"))
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
        if metadata["level"] == "subword":  # comparable with a word-level model's perplexity
            words = len(split_tokens(text, "word", line_ends=line_ends))
            metrics["perplexity_per_word"] = round(math.exp(loss * (len(tokens) - 1) /
                                                            (words - 1)), 4)
        sample = signatures["serving_default"](
            prompt=tf.constant([tokens[0].replace(SPACE, " ").lstrip()]))["text"].numpy()[0].decode(
                "utf-8")
        return Scored(metrics, samples=[{"sample": sample}])
