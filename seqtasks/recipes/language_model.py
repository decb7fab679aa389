"""language_model: next-event prediction. Text -> the next character or word; generate text.

tokens (characters or words) -> Embedding -> ElmanRNN (stateful, stackable) -> the prediction
head -> softmax over the vocabulary at every step. A long text is trained with truncated
backpropagation through time: ``train.batch_size`` contiguous streams side by side, cut into
windows of ``train.bptt`` steps, the hidden state carried from one window to the next and
reset at the start of every epoch and evaluation. Generation (greedy, temperature and top-k
sampling) runs inside the graph: the prompt is read by the same cell, then
:class:`~seqtasks.decoding.SamplingDecoder` steps it.
"""

from seqtasks.config import Key
from seqtasks.errors import ConfigError, DataError
from seqtasks.recipes import register
from seqtasks.recipes.base import Recipe

UNK = "[UNK]"


@register
class LanguageModel(Recipe):
    name = "language_model"
    description = "next-event prediction: text -> the next character or word; generate text"
    serving_input = "prompt"
    schema_extra = {
        "data": {
            "level": Key("char", (str,), "tokens: characters or words", ("char", "word")),
            "lowercase": Key(False, (bool,), "lowercase the text"),
            "max_tokens": Key(20000, (int,), "largest vocabulary (unknown token included)"),
            "min_count": Key(1, (int,), "tokens seen fewer times in training are unknown"),
            "test_fraction": Key(0.1, (float,), "without data.test: the last share of the text "
                                 "is the test text"),
        },
        "model": {
            "units": 256,
            "hidden_units": Key(256, (int,), "size of the ReLU layer of the prediction head"),
        },
        "train": {
            "epochs": Key(20, (int,), "number of passes over the training text"),
            "batch_size": Key(32, (int,), "parallel streams of the text (stateful training)"),
            "bptt": Key(100, (int,), "steps per window of truncated backpropagation through "
                        "time; the state is carried across windows"),
            "learning_rate": 0.002,
            "reduce_lr_patience": 1,
        },
        "generate": {
            "length": Key(200, (int,), "tokens generated per prompt by the export's default"),
            "temperature": Key(0.8, (float,), "sampling temperature; 0 is greedy"),
            "top_k": Key(0, (int,), "sample among the k most probable tokens; 0: all"),
            "seed": Key(0, (int,), "seed of the sampling"),
        },
    }

    # ----- reading -----------------------------------------------------------------------
    def builtin_splits(self, seed):
        from seqtasks.data.builtin import translation

        text = "\n".join(source for source, _ in translation.generate(4000, seed)) + "\n"
        return self._carve(text, "built-in text")

    def read_file(self, spec, split):
        from seqtasks.data.readers import read_text

        paths = spec if isinstance(spec, list) else [spec]
        text = "".join(read_text(p) for p in paths)
        if not text.strip():
            raise DataError(f"{spec}: no text found")
        return text

    def read_tfds(self, name, split):
        import tensorflow_datasets as tfds

        try:
            dataset = tfds.load(name, split=split)
        except Exception as e:  # TFDS raises many types; report one line
            raise DataError(f"tfds:{name}:{split}: cannot load ({type(e).__name__}: {e})") from None
        texts = [example["text"].decode("utf-8") for example in tfds.as_numpy(dataset)]
        return "\n".join(texts)

    def _carve(self, text, source):
        data = self.config["data"]
        test_cut = int(len(text) * (1 - data["test_fraction"]))
        validation_cut = int(test_cut * (1 - data["validation_fraction"]))
        return {"train": text[:validation_cut], "validation": text[validation_cut:test_cut],
                "test": text[test_cut:], "source": source}

    def load_texts(self):
        data = self.config["data"]
        if data["train"] is None:
            if data["validation"] is not None or data["test"] is not None:
                raise ConfigError("data.train: must be set when data.validation or data.test is")
            return self.builtin_splits(self.config["train"]["seed"])
        train = self.read_source(data["train"], "train")
        if data["test"] is None:
            return self._carve(train, str(data["train"]))
        texts = {"train": train, "test": self.read_source(data["test"], "test"),
                 "source": str(data["train"])}
        if data["validation"] is not None:
            texts["validation"] = self.read_source(data["validation"], "validation")
        else:
            cut = int(len(train) * (1 - data["validation_fraction"]))
            texts["train"], texts["validation"] = train[:cut], train[cut:]
        return texts

    # ----- data --------------------------------------------------------------------------
    def tokens(self, text):
        data = self.config["data"]
        if data["lowercase"]:
            text = text.lower()
        return list(text) if data["level"] == "char" else text.split()

    def build_datasets(self):
        import numpy as np
        import tensorflow as tf

        from seqtasks.data.streams import tbptt_windows
        from seqtasks.layers.tokens import vocabulary_by_count

        data, train = self.config["data"], self.config["train"]
        texts = self.load_texts()
        tokens = {split: self.tokens(texts[split]) for split in ("train", "validation", "test")}
        self.sample_prompt = tokens["test"][0] if tokens["test"] else ""
        self.vocabulary = vocabulary_by_count([tokens["train"]], max(data["max_tokens"] - 1, 1),
                                              data["min_count"], reserved=())
        index = {t: i + 1 for i, t in enumerate(self.vocabulary)}
        datasets, self.windows, self.ids = {}, {}, {}
        for split, stream in tokens.items():
            ids = np.array([index.get(t, 0) for t in stream], np.int32)
            try:
                inputs, targets = tbptt_windows(ids, train["batch_size"], train["bptt"])
            except ValueError as e:
                where = texts["source"] if split != "test" or data["test"] is None \
                    else data["test"]
                raise DataError(f"{where} ({split} text): {e}; use a smaller train.batch_size "
                                "or train.bptt, or more text") from None
            self.windows[split] = len(inputs)
            self.ids[split] = ids
            datasets[split] = tf.data.Dataset.from_tensor_slices((inputs, targets))
        self.summary = {"tokens": {s: len(t) for s, t in tokens.items()},
                        "vocabulary": len(self.vocabulary) + 1, "windows": self.windows,
                        "level": data["level"]}
        return datasets

    # ----- model -------------------------------------------------------------------------
    def _layers(self, stateful):
        import keras

        from seqtasks.layers import PredictionHead
        from seqtasks.layers.stack import CELLS

        model = self.config["model"]
        vocabulary = len(self.vocabulary) + 1
        embedding = keras.layers.Embedding(vocabulary, model["embedding_dim"], name="embedding")
        rnns = [CELLS[model["cell"]](model["units"], dropout=model["dropout"],
                                     return_sequences=True, stateful=stateful, name=f"rnn_{i}")
                for i in range(model["layers"])]
        head = PredictionHead(vocabulary, model["hidden_units"], dropout=model["dropout"],
                              name="head")
        return embedding, rnns, head

    def build_model(self):
        import keras

        from seqtasks.distribute import get_strategy
        from seqtasks.training import compile_model

        train = self.config["train"]
        with get_strategy(train["strategy"]).scope():
            ids = keras.Input(batch_shape=(train["batch_size"], train["bptt"]), dtype="int32",
                              name="ids")
            embedding, rnns, head = self._layers(stateful=True)
            x = embedding(ids)
            for rnn in rnns:
                x = rnn(x)
            model = keras.Model(ids, head(x), name=self.name)
            compile_model(model, train, metrics=[
                keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        return model

    def callbacks(self):
        return [reset_states_callback()]

    def diagnostic(self, model, datasets):
        """The embedded first window of every training stream, and the next token after its
        last step: the gradient is taken at the embedding output (ids are not differentiable),
        the recurrent layers starting from a zero state."""
        embedding, rnns, head = _parts(model)
        ids, targets = next(iter(datasets["train"]))

        def forward(x, training=False):
            reset_states(model)
            for rnn in rnns:
                x = rnn(x, training=training)
            reset_states(model)  # leave no state behind for later training or evaluation
            return head(x[:, -1], training=training)

        return forward, embedding(ids), targets[:, -1]

    # ----- metrics -----------------------------------------------------------------------
    def evaluate(self, model, datasets):
        import math

        loss, accuracy = self.stream_scores(model, self.ids["test"])
        metrics = {"loss": round(loss, 6), "perplexity": round(math.exp(loss), 4),
                   "accuracy": round(accuracy, 6)}
        if self.config["data"]["level"] == "char":
            metrics["bits_per_char"] = round(loss / math.log(2), 6)
        self.sample = self.generate_texts(model, [self.sample_prompt],
                                          self.config["generate"]["length"])
        return metrics

    def stream_scores(self, model, ids, chunk=1024):
        """``(loss, accuracy)`` of predicting ``ids[1:]`` from what precedes each token: the
        whole stream read as one sequence, the state carried from its first token to its last
        (a batch-1 stateful copy of ``model`` reads it ``chunk`` tokens at a time). Unlike the
        training windows, no token is dropped and only the first starts from a zero state, so
        the score does not depend on ``train.batch_size`` or ``train.bptt``."""
        import keras
        import numpy as np

        inputs = keras.Input(batch_shape=(1, None), dtype="int32")
        embedding, rnns, head = self._layers(stateful=True)
        x = embedding(inputs)
        for rnn in rnns:
            x = rnn(x)
        reader = keras.Model(inputs, head(x))
        reader.set_weights(model.get_weights())
        nll, correct = 0.0, 0
        for start in range(0, len(ids) - 1, chunk):
            x = ids[start:min(start + chunk, len(ids) - 1)]
            y = ids[start + 1:start + 1 + len(x)]
            probs = np.asarray(reader.predict_on_batch(x[None]))[0]
            picked = probs[np.arange(len(y)), y].astype(np.float64)
            # the exact log-likelihood; only a probability that underflowed float32 is floored
            nll -= np.log(np.maximum(picked, np.finfo(np.float32).tiny)).sum()
            correct += int((probs.argmax(axis=-1) == y).sum())
        return nll / (len(ids) - 1), correct / (len(ids) - 1)

    def report(self, metrics):
        return ["  sample:"] + [f"    {line}" for line in self.sample[0].splitlines()[:8]]

    # ----- generation --------------------------------------------------------------------
    def generator(self, model):
        """``generate(prompt [B] str, length, temperature, top_k, seed) -> text [B] str``
        built on ``model``'s layers, stateless and graph-friendly."""
        import tensorflow as tf

        from seqtasks.decoding import SamplingDecoder

        embedding, rnns, head = _parts(model)
        level = self.config["data"]["level"]
        lowercase = self.config["data"]["lowercase"]
        vocabulary = tf.constant([UNK, *self.vocabulary])
        known = tf.constant(self.vocabulary)

        def lookup(pieces):
            # token -> id by comparison with the vocabulary (constants only, nothing to track)
            flat = pieces.flat_values
            equal = tf.equal(flat[:, None], known[None, :])
            ids = tf.where(tf.reduce_any(equal, axis=1),
                           tf.argmax(tf.cast(equal, tf.int32), axis=1, output_type=tf.int32) + 1,
                           0)
            return pieces.with_flat_values(ids)
        size = len(self.vocabulary) + 1
        never = tf.one_hot(0, size, on_value=-1e9, off_value=0.0)  # the unknown token

        def cell_step(ids, states):
            x = tf.gather(embedding.embeddings, ids)
            new_states = []
            for rnn, state in zip(rnns, states):
                x, new = rnn.cell(x, state, training=False)
                new_states.append(list(new))
            return x, new_states

        def initial(batch):
            states = []
            for rnn in rnns:
                sizes = rnn.cell.state_size
                sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
                states.append([tf.zeros([batch, size]) for size in sizes])
            return states

        def generate(prompt, length, temperature, top_k, seed):
            text = tf.strings.lower(prompt) if lowercase else prompt
            pieces = tf.strings.unicode_split(text, "UTF-8") if level == "char" \
                else tf.strings.split(text)
            # one extra column, so that an empty prompt still has a (unknown) token to start on
            ids = tf.pad(lookup(pieces).to_tensor(default_value=0), [[0, 0], [0, 1]])
            lengths = tf.cast(pieces.row_lengths(), tf.int32)
            batch = tf.shape(ids)[0]
            states = initial(batch)
            # read the prompt except its last token, row by row up to its own length
            last = tf.maximum(lengths - 1, 0)

            def read(t, states):
                _, new = cell_step(ids[:, t], states)
                keep = t < last
                states = tf.nest.map_structure(
                    lambda n, o: tf.where(keep[:, None], n, o), new, states)
                return t + 1, states

            _, states = tf.while_loop(lambda t, s: t < tf.shape(ids)[1] - 2, read,
                                      (tf.constant(0), states))
            start = tf.gather(ids, last, batch_dims=1)

            def step(tokens, state, constants, time):
                h, new = cell_step(tokens, state)
                log_probs = tf.math.log(tf.maximum(head(h), 1e-12)) + never
                return log_probs, new

            decoder = SamplingDecoder(temperature=temperature, top_k=top_k, seed=seed)
            tokens, out_lengths, _ = decoder(step, states, (), start, 0,
                                             tf.fill([batch], length))
            words = tf.gather(vocabulary, tokens)
            words = tf.where(tf.sequence_mask(out_lengths, tf.shape(tokens)[1]), words, "")
            separator = "" if level == "char" else " "
            generated = tf.strings.reduce_join(words, axis=1, separator=separator)
            if level == "word":
                generated = tf.strings.regex_replace(generated, " +$", "")
                return tf.strings.join([prompt, generated], separator=" ")
            return prompt + generated

        return generate

    def generate_texts(self, model, prompts, length, temperature=None, top_k=None, seed=None):
        import tensorflow as tf

        options = self.config["generate"]
        run = tf.function(self.generator(model), autograph=False)
        out = run(tf.constant(prompts), tf.constant(length),
                  tf.constant(options["temperature"] if temperature is None else temperature,
                              tf.float32),
                  tf.constant(options["top_k"] if top_k is None else top_k),
                  tf.constant(options["seed"] if seed is None else seed))
        return [t.decode("utf-8") for t in out.numpy()]

    # ----- export ------------------------------------------------------------------------
    def inference_model(self, model):
        return model

    def _signatures(self, inference_model):
        import tensorflow as tf

        generate = self.generator(inference_model)
        options = self.config["generate"]

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="prompt")],
                     autograph=False)
        def serve(prompt):
            return {"text": generate(prompt, options["length"], float(options["temperature"]),
                                     options["top_k"], options["seed"])}

        @tf.function(input_signature=[
            tf.TensorSpec([None], tf.string, name="prompt"),
            tf.TensorSpec([], tf.int32, name="length"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="top_k"),
            tf.TensorSpec([], tf.int32, name="seed")], autograph=False)
        def generate_fn(prompt, length, temperature, top_k, seed):
            return {"text": generate(prompt, length, temperature, top_k, seed)}

        return serve, generate_fn

    def serving_function(self, inference_model):
        return self._signatures(inference_model)[0]

    def extra_endpoints(self, inference_model):
        return {"generate": self._signatures(inference_model)[1]}

    def export_assets(self):
        return {"level": self.config["data"]["level"],
                "lowercase": self.config["data"]["lowercase"],
                "vocabulary": self.vocabulary, "generate": dict(self.config["generate"])}

    @classmethod
    def format_prediction(cls, inputs, outputs):
        return [t.decode("utf-8") for t in outputs["text"]]


def check_generation(metadata, prompt, length, temperature, top_k, seed):
    """Validate ``seqtasks generate`` options against an export's metadata; returns the
    sampling options with the export's defaults filled in."""
    if length < 1:
        raise ConfigError(f"--length: expected a positive number of tokens, found {length}")
    defaults = metadata["generate"]
    options = {"temperature": defaults["temperature"] if temperature is None else temperature,
               "top_k": defaults["top_k"] if top_k is None else top_k,
               "seed": defaults["seed"] if seed is None else seed}
    if options["temperature"] < 0:
        raise ConfigError(f"--temperature: expected 0 (greedy) or a positive number, found "
                          f"{options['temperature']}")
    if options["top_k"] < 0:
        raise ConfigError(f"--top-k: expected 0 (all tokens) or a positive number, found "
                          f"{options['top_k']}")
    text = prompt.lower() if metadata["lowercase"] else prompt
    pieces = list(text) if metadata["level"] == "char" else text.split()
    known = set(metadata["vocabulary"])
    unseen = sorted({p for p in pieces if p not in known})
    if unseen:
        what = "character" if metadata["level"] == "char" else "word"
        shown = ", ".join(repr(p) for p in unseen[:5]) + (" ..." if len(unseen) > 5 else "")
        raise DataError(f"--prompt: {what}{'s' if len(unseen) > 1 else ''} {shown} never seen "
                        f"in the training text (the model knows {len(known)} {what}s)")
    return options


def _parts(model):
    """``(embedding, recurrent layers, head)`` of a language_model model."""
    return (model.get_layer("embedding"),
            [layer for layer in model.layers if layer.name.startswith("rnn_")],
            model.get_layer("head"))


def reset_states(model):
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_state()


def reset_states_callback():
    """A Keras callback resetting the stateful RNNs at every epoch and evaluation."""
    import keras

    class ResetStates(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            reset_states(self.model)

        def on_test_begin(self, logs=None):
            reset_states(self.model)

        def on_test_end(self, logs=None):
            reset_states(self.model)

    return ResetStates()
