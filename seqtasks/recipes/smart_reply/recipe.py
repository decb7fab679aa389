"""smart_reply: many-to-one. A message -> the best replies from a fixed reply dictionary.

text -> token ids (:class:`SmartReplyPreprocessor`) -> Embedding(mask_zero) -> ElmanRNN layers
-> pooling -> prediction head (softmax over the reply labels) -> the top ``export.top_k`` replies.

It can stay silent (:class:`~seqtasks.abstaining.Abstaining`): see ``export.min_score``
and ``data.out_of_scope_label``.
"""

from seqtasks.abstaining import DATA_KEYS, EXPORT_KEYS, Abstaining
from seqtasks.config import Key, fraction, positive
from seqtasks.recipes import register
from seqtasks.recipes.base import Example, Recipe


@register
class SmartReply(Abstaining, Recipe):
    name = "smart_reply"
    description = "many-to-one: a message -> the best replies from a fixed reply dictionary"
    schema_extra = {
        "data": {
            "text_column": Key("text", (str, int), "column (name or 0-based index) of the message"),
            "label_column": Key("label", (str, int), "column of the label (intent / reply id)"),
            "replies": Key(None, (str,), "file of label,reply rows: the text shown for a label"),
            "max_tokens": positive(20000, "largest vocabulary, padding and OOV included"),
            "max_length": positive(64, "messages are cut to this many tokens"),
            "word_dropout": fraction(0.0, "in training, share of tokens replaced by the "
                                     "out-of-vocabulary token, so the model learns to cope with "
                                     "unseen words"),
            **DATA_KEYS,
        },
        "model": {
            "bidirectional": True,
            "dropout": 0.3,
            "hidden_units": 128,
            "pooling": Key("mean", (str,), "what feeds the head: the last hidden state, or the "
                           "mean or max over all steps (padding excluded)",
                           ("last", "mean", "max")),
        },
        "train": {"epochs": 30, "early_stopping_patience": 5, "reduce_lr_patience": 2,
                  "monitor": "val_accuracy"},
        "export": {"top_k": positive(3, "replies returned per message"), **EXPORT_KEYS},
    }

    def builtin_splits(self, seed):
        from seqtasks.recipes.smart_reply import builtin as builtin

        return {split: [Example(text, label, "built-in data") for text, label in examples]
                for split, examples in builtin.splits(seed).items()}

    def read_file(self, path, split):
        from seqtasks.data.readers import read_columns

        columns = [self.config["data"]["text_column"], self.config["data"]["label_column"]]
        return (Example(text, label.strip(), f"{path}:{line}")
                for line, (text, label) in read_columns(path, columns))

    def tfds_examples(self, rows, info, where):
        from seqtasks.data.readers import decoded, tfds_feature

        text, label = self.config["data"]["text_column"], self.config["data"]["label_column"]
        tfds_feature(info, text, where, "data.text_column")
        names = getattr(tfds_feature(info, label, where, "data.label_column"), "names", None)
        return (Example(decoded(row[text]),
                        names[int(row[label])] if names else decoded(row[label]), f"{where}[{i}]")
                for i, row in enumerate(rows))

    def make_preprocessor(self):
        from seqtasks.recipes.smart_reply.preprocessor import SmartReplyPreprocessor

        data = self.config["data"]
        return SmartReplyPreprocessor(data["max_tokens"], data["max_length"], name="preprocessor")

    def adapt(self, splits):
        from seqtasks.data.readers import read_replies
        from seqtasks.recipes.smart_reply import builtin as builtin

        data = self.config["data"]
        texts = builtin.replies() if data["train"] is None else read_replies(data["replies"])
        preprocessor = super().adapt(splits)
        preprocessor.replies = [texts.get(label, label) for label in preprocessor.labels]
        return preprocessor

    def augment(self, dataset):
        from seqtasks.data.noise import drop_words

        rate = self.config["data"]["word_dropout"]
        return dataset.map(lambda *e: drop_words(*e, rate=rate)) if rate > 0 else dataset

    def network(self):
        import keras

        from seqtasks.layers import PredictionHead, SequencePooling, backbone

        model = self.config["model"]
        ids = keras.Input((None,), dtype="int32", name="token_ids")
        x = backbone(ids, self.preprocessor.vocabulary_size, model,
                     return_sequences=model["pooling"] != "last")
        if model["pooling"] != "last":
            x = SequencePooling(model["pooling"], name="pooling")(x)
        probs = PredictionHead(len(self.preprocessor.labels), model["hidden_units"],
                               dropout=model["dropout"], name="head")(x)
        return keras.Model(ids, probs, name=self.name)

    def metrics(self):
        from keras import metrics

        return [metrics.SparseCategoricalAccuracy(name="accuracy"),
                metrics.SparseTopKCategoricalAccuracy(k=3, name="top_3_accuracy")], ()

    def postprocess(self, probs, inputs):
        return self.preprocessor.top_replies(probs, self.config["export"]["top_k"],
                                             self.min_score(), self.out_of_scope_label())

    def export_assets(self):
        p = self.preprocessor
        return {"labels": p.labels, "replies": p.replies,
                "top_k": min(self.config["export"]["top_k"], len(p.labels)),
                **self.abstaining_assets()}

    def score(self, signatures, examples, metadata):
        from seqtasks.scoring import Scored

        outputs = self.run_signature(signatures["serving_default"], examples)
        abstained = outputs.get("abstained", [False] * len(examples))
        return Scored(self.abstention_metrics(outputs, examples, metadata), predictions=[
            None if a else labels[0].decode("utf-8")
            for labels, a in zip(outputs["labels"], abstained)])

    def prediction_inputs(self, path):
        from seqtasks.data.readers import read_columns

        for line, (text,) in read_columns(path, [self.config["data"]["text_column"]]):
            yield f"{path}:{line}", {"text": text}

    @classmethod
    def format_prediction(cls, inputs, outputs):
        silent = outputs.get("abstained", [False] * len(inputs))
        return [line for text, *row in zip(inputs, outputs["replies"], outputs["scores"], silent)
                for line in [f"> {text if len(text) <= 80 else text[:77] + '...'}",
                             *cls.reply_lines(*row)]]
