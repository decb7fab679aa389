"""smart_reply: many-to-one. A message -> the best replies from a fixed reply dictionary.

text -> TextVectorization -> Embedding(mask_zero) -> ElmanRNN (stackable, bidirectional)
-> prediction head (ReLU dense, softmax over the reply labels).
"""

import functools

from seqtasks.config import Key
from seqtasks.errors import DataError
from seqtasks.recipes import register
from seqtasks.recipes.base import Recipe


def drop_words(ids, target, rate):
    """Replace real tokens by the out-of-vocabulary id (1) with probability ``rate``."""
    from seqtasks.data.noise import drop_tokens

    return drop_tokens(ids, rate), target


@register
class SmartReply(Recipe):
    name = "smart_reply"
    description = "many-to-one: a message -> the best replies from a fixed reply dictionary"
    schema_extra = {
        "data": {
            "text_column": Key("text", (str, int), "column (name or 0-based index) of the message"),
            "label_column": Key("label", (str, int), "column of the label (intent / reply id)"),
            "replies": Key(None, (str,), "file of label,reply rows: the text shown for a label"),
            "max_tokens": Key(20000, (int,), "largest vocabulary, padding and OOV included"),
            "max_length": Key(64, (int,), "messages are cut to this many tokens"),
            "word_dropout": Key(0.0, (float,), "in training, share of tokens replaced by the "
                                "out-of-vocabulary token, so the model learns to cope with unseen "
                                "words"),
        },
        "model": {
            "bidirectional": True,
            "dropout": 0.3,
            "hidden_units": Key(128, (int,), "size of the ReLU layer of the prediction head"),
            "pooling": Key("mean", (str,), "what feeds the head: the last hidden state, or the "
                           "mean or max over all steps (padding excluded)",
                           ("last", "mean", "max")),
        },
        "train": {
            "epochs": 30,
            "early_stopping_patience": 5,
            "reduce_lr_patience": 2,
            "monitor": Key("val_accuracy", (str,), "validation metric for early stopping, "
                           "learning-rate cuts and the best weights"),
        },
        "export": {
            "top_k": Key(3, (int,), "replies returned per message"),
        },
    }

    # ----- reading -----------------------------------------------------------------------
    def builtin_splits(self, seed):
        from seqtasks.data.builtin import smart_reply as builtin

        return {split: [(text, label, "built-in data") for text, label in examples]
                for split, examples in builtin.splits(seed).items()}

    def read_file(self, path, split):
        from seqtasks.data.readers import read_columns

        data = self.config["data"]
        columns = [data["text_column"], data["label_column"]]
        return [(text, label.strip(), f"{path}:{line}")
                for line, (text, label) in read_columns(path, columns)]

    def read_tfds(self, name, split):
        import tensorflow_datasets as tfds

        data = self.config["data"]
        try:
            dataset, info = tfds.load(name, split=split, with_info=True)
        except Exception as e:  # TFDS raises many types; report one line
            raise DataError(f"tfds:{name}:{split}: cannot load ({type(e).__name__}: {e})") from None
        features = info.features
        for column in (data["text_column"], data["label_column"]):
            if column not in features:
                raise DataError(
                    f"tfds:{name}: no feature {column!r} (features: {', '.join(features)}); "
                    "set data.text_column / data.label_column"
                )
        label_feature = features[data["label_column"]]
        names = getattr(label_feature, "names", None)
        examples = []
        for i, example in enumerate(tfds.as_numpy(dataset)):
            text = example[data["text_column"]]
            label = example[data["label_column"]]
            text = text.decode("utf-8") if isinstance(text, bytes) else str(text)
            label = names[int(label)] if names else (
                label.decode("utf-8") if isinstance(label, bytes) else str(label))
            examples.append((text, label, f"tfds:{name}:{split}[{i}]"))
        return examples

    def _reply_texts(self):
        from seqtasks.data.builtin import smart_reply as builtin
        from seqtasks.data.readers import read_columns

        data = self.config["data"]
        if data["train"] is None:
            return builtin.replies()
        if data["replies"] is None:
            return {}
        return {label.strip(): reply for _, (label, reply) in
                read_columns(data["replies"], ["label", "reply"])}

    # ----- data --------------------------------------------------------------------------
    def build_datasets(self):
        import keras
        import numpy as np
        import tensorflow as tf

        from seqtasks.data.batching import batch_sequences, length_boundaries, padded_fraction
        from seqtasks.layers import FitLength

        data, train = self.config["data"], self.config["train"]
        splits = self.load_splits()
        self.labels = sorted({label for _, label, _ in splits["train"]})
        index = {label: i for i, label in enumerate(self.labels)}
        for split in ("validation", "test"):
            for _, label, where in splits[split]:
                if label not in index:
                    raise DataError(
                        f"{where}: label {label!r} never appears in the training data "
                        f"(the model can only predict the {len(self.labels)} training labels)"
                    )
        reply_texts = self._reply_texts()
        self.replies = [reply_texts.get(label, label) for label in self.labels]

        self.vectorizer = keras.layers.TextVectorization(
            max_tokens=data["max_tokens"], output_mode="int", name="vectorizer")
        train_texts = [text for text, _, _ in splits["train"]]
        self.vectorizer.adapt(tf.data.Dataset.from_tensor_slices(train_texts).batch(1024))
        max_length = data["max_length"]
        # The same truncation and padding as the exported model's.
        fit_length = FitLength(max_length)

        def encode(text, label):
            return tf.cast(fit_length(self.vectorizer(text[None]))[0], tf.int32), label

        lengths = [min(max(len(text.split()), 1), max_length) for text in train_texts]
        boundaries = length_boundaries(lengths)
        datasets = {}
        for split, examples in splits.items():
            texts = np.array([text for text, _, _ in examples], dtype=object)
            targets = np.array([index[label] for _, label, _ in examples], dtype="int32")
            ds = tf.data.Dataset.from_tensor_slices((texts, targets)).map(encode).cache()
            if split == "train" and data["word_dropout"] > 0:
                ds = ds.map(functools.partial(drop_words, rate=data["word_dropout"]))
            datasets[split] = batch_sequences(
                ds, train["batch_size"], boundaries=boundaries, bucketing=train["bucketing"],
                shuffle_seed=train["seed"] if split == "train" else None)
        self.summary = {
            "examples": {split: len(examples) for split, examples in splits.items()},
            "labels": len(self.labels),
            "vocabulary": self.vectorizer.vocabulary_size(),
            "padded_fraction": round(padded_fraction(datasets["train"]), 4),
        }
        return datasets

    # ----- model -------------------------------------------------------------------------
    def build_model(self):
        import keras

        from seqtasks.distribute import get_strategy
        from seqtasks.layers import PredictionHead, SequencePooling, recurrent_stack
        from seqtasks.training import compile_model

        model_config, train = self.config["model"], self.config["train"]
        with get_strategy(train["strategy"]).scope():
            ids = keras.Input((None,), dtype="int32", name="token_ids")
            x = keras.layers.Embedding(self.vectorizer.vocabulary_size(),
                                       model_config["embedding_dim"], mask_zero=True,
                                       name="embedding")(ids)
            if model_config["dropout"]:
                x = keras.layers.Dropout(model_config["dropout"])(x)
            pooling = model_config["pooling"]
            x = recurrent_stack(x, model_config, return_sequences=pooling != "last")
            if pooling != "last":
                x = SequencePooling(pooling, name="pooling")(x)
            probs = PredictionHead(len(self.labels), model_config["hidden_units"],
                                   dropout=model_config["dropout"], name="head")(x)
            model = keras.Model(ids, probs, name=self.name)
            compile_model(model, train, metrics=[
                keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top_3_accuracy")])
        return model

    def evaluate(self, model, datasets):
        results = model.evaluate(datasets["test"], return_dict=True, verbose=0)
        return {name: round(float(value), 6) for name, value in results.items()}

    # ----- export ------------------------------------------------------------------------
    def inference_model(self, model):
        import keras

        from seqtasks.layers import FitLength

        text = keras.Input(shape=(), dtype="string", name="text")
        ids = FitLength(self.config["data"]["max_length"], name="fit_length")(self.vectorizer(text))
        return keras.Model(text, model(ids), name=f"{self.name}_inference")

    def serving_function(self, inference_model):
        import tensorflow as tf

        replies = tf.constant(self.replies)
        labels = tf.constant(self.labels)
        k = min(self.config["export"]["top_k"], len(self.labels))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(text):
            scores, best = tf.math.top_k(inference_model(text), k=k)
            return {"replies": tf.gather(replies, best), "scores": scores,
                    "labels": tf.gather(labels, best)}

        return serve

    def export_assets(self):
        return {"labels": self.labels, "replies": self.replies,
                "top_k": min(self.config["export"]["top_k"], len(self.labels))}

    @classmethod
    def format_prediction(cls, inputs, outputs):
        lines = []
        for text, replies, scores in zip(inputs, outputs["replies"], outputs["scores"]):
            lines.append(f"> {text if len(text) <= 80 else text[:77] + '...'}")
            lines += [f"  {score:.3f}  {reply.decode('utf-8')}" for reply, score in
                      zip(replies, scores)]
        return lines
