"""smart_reply: many-to-one. A message -> the best replies from a fixed reply dictionary.

text -> token ids (:class:`SmartReplyPreprocessor`) -> Embedding(mask_zero) -> ElmanRNN layers
-> pooling -> prediction head (softmax over the reply labels) -> the top ``export.top_k`` replies.

It can stay silent: the export abstains (``abstained``, empty replies) when the best score is
under ``export.min_score`` (``"auto"``: the lowest threshold at which the validation messages
answered are right ``export.target_precision`` of the time) or the best label is
``data.out_of_scope_label`` (learned like any label when the training data has it, as
CLINC150's ``oos``).
"""

from seqtasks.config import Key, fraction, positive
from seqtasks.recipes import register
from seqtasks.recipes.base import Example, Recipe


@register
class SmartReply(Recipe):
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
            "out_of_scope_label": Key("oos", (str,), "label of messages no reply fits "
                                      "(CLINC150's): learned like any label when the training "
                                      "data has it, never answered, allowed in validation and "
                                      "test data without it, and scored as out-of-scope recall "
                                      "and precision"),
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
        "export": {
            "top_k": positive(3, "replies returned per message"),
            "min_score": Key(0.0, (float, str), "abstain (no replies) when the best score is "
                             "under this; auto: chosen on the validation split for "
                             "export.target_precision", bounds="probability-or-auto"),
            "target_precision": fraction(0.9, "with min_score = auto: the share of answered "
                                         "validation messages that must be answered right"),
        },
    }

    def __init__(self, config=None):
        super().__init__(config)
        #: The abstain threshold :meth:`calibrate` chose (``export.min_score = "auto"``).
        self.chosen_min_score = None

    def min_score(self):
        value = self.config["export"]["min_score"]
        if value != "auto":
            return float(value)
        if self.chosen_min_score is None:
            raise RuntimeError("smart_reply: export.min_score is auto; call calibrate(model) "
                               "after training, before evaluating or exporting")
        return self.chosen_min_score

    def builtin_splits(self, seed):
        from seqtasks.data.builtin import smart_reply as builtin

        return {split: [Example(text, label, "built-in data") for text, label in examples]
                for split, examples in builtin.splits(seed).items()}

    def read_file(self, path, split):
        from seqtasks.data.readers import read_columns

        columns = [self.config["data"]["text_column"], self.config["data"]["label_column"]]
        return [Example(text, label.strip(), f"{path}:{line}")
                for line, (text, label) in read_columns(path, columns)]

    def tfds_examples(self, rows, info, where):
        from seqtasks.data.readers import decoded, tfds_feature

        text, label = self.config["data"]["text_column"], self.config["data"]["label_column"]
        tfds_feature(info, text, where, "data.text_column")
        names = getattr(tfds_feature(info, label, where, "data.label_column"), "names", None)
        return [Example(decoded(row[text]),
                        names[int(row[label])] if names else decoded(row[label]), f"{where}[{i}]")
                for i, row in enumerate(rows)]

    def make_preprocessor(self):
        from seqtasks.preprocessors.smart_reply import SmartReplyPreprocessor

        data = self.config["data"]
        return SmartReplyPreprocessor(data["max_tokens"], data["max_length"], name="preprocessor")

    def adapt(self, splits):
        from seqtasks.data.builtin import smart_reply as builtin
        from seqtasks.data.readers import read_replies

        data = self.config["data"]
        texts = builtin.replies() if data["train"] is None else read_replies(data["replies"])
        preprocessor = super().adapt(splits)
        preprocessor.replies = [texts.get(label, label) for label in preprocessor.labels]
        return preprocessor

    def check_split(self, preprocessor, examples):
        preprocessor.check(examples, self.config["data"]["out_of_scope_label"])

    def dataset(self, split, examples):
        # out-of-scope messages the model has no label for are scored, not fed to fit
        known = self.preprocessor.label_index()
        return super().dataset(split, [e for e in examples if e.target in known])

    def augment(self, dataset):
        from seqtasks.data.noise import drop_words

        rate = self.config["data"]["word_dropout"]
        return dataset.map(lambda *e: drop_words(*e, rate=rate)) if rate > 0 else dataset

    def network(self):
        import keras

        from seqtasks.layers import PredictionHead, SequencePooling, recurrent_stack

        model = self.config["model"]
        ids = keras.Input((None,), dtype="int32", name="token_ids")
        x = keras.layers.Embedding(self.preprocessor.vocabulary_size, model["embedding_dim"],
                                   mask_zero=True, name="embedding")(ids)
        if model["dropout"]:
            x = keras.layers.Dropout(model["dropout"])(x)
        x = recurrent_stack(x, model, return_sequences=model["pooling"] != "last")
        if model["pooling"] != "last":
            x = SequencePooling(model["pooling"], name="pooling")(x)
        probs = PredictionHead(len(self.preprocessor.labels), model["hidden_units"],
                               dropout=model["dropout"], name="head")(x)
        return keras.Model(ids, probs, name=self.name)

    def metrics(self):
        from keras import metrics

        return [metrics.SparseCategoricalAccuracy(name="accuracy"),
                metrics.SparseTopKCategoricalAccuracy(k=3, name="top_3_accuracy")], ()

    def calibrate(self, model):
        """With ``export.min_score = "auto"``: the abstain threshold from the validation
        messages' best scores (see :func:`seqtasks.metrics.abstain_threshold`)."""
        import numpy as np

        from seqtasks.metrics import abstain_threshold

        export = self.config["export"]
        if export["min_score"] != "auto":
            return []
        examples = self.splits["validation"]
        inference = self.inference_model(model)
        probs = np.concatenate([
            np.asarray(inference(np.array([e.input for e in examples[i:i + 256]], dtype=object)))
            for i in range(0, len(examples), 256)]) if examples else np.zeros((0, 1))
        best = probs.argmax(axis=1)
        labels = np.array(self.preprocessor.labels, dtype=object)[best]
        oos = self.config["data"]["out_of_scope_label"]
        answerable = labels != oos  # a predicted out-of-scope label always abstains
        correct = labels == np.array([e.target for e in examples], dtype=object)
        threshold, precision, answered = abstain_threshold(
            probs.max(axis=1)[answerable], correct[answerable], export["target_precision"])
        self.chosen_min_score = threshold
        return [f"export.min_score = auto: {threshold:.4f} (validation: {precision:.1%} of the "
                f"{answered:.1%} answered are right; target {export['target_precision']:.0%})"]

    def postprocess(self, probs, inputs):
        return self.preprocessor.top_replies(probs, self.config["export"]["top_k"],
                                             self.min_score(),
                                             self.config["data"]["out_of_scope_label"])

    def export_assets(self):
        p = self.preprocessor
        return {"labels": p.labels, "replies": p.replies,
                "top_k": min(self.config["export"]["top_k"], len(p.labels)),
                "min_score": self.min_score(),
                "out_of_scope_label": self.config["data"]["out_of_scope_label"]}

    def score(self, signatures, examples, metadata):
        import numpy as np

        from seqtasks.metrics import abstention_scores

        out = self.run_signature(signatures["serving_default"], examples)
        labels = [[label.decode("utf-8") for label in row] for row in out["labels"]]
        targets = [e.target for e in examples]
        # exports made before abstaining existed have no such output: they never abstain
        abstained = np.asarray(out.get("abstained", [False] * len(examples)), bool)
        scores = abstention_scores(targets, [row[0] for row in labels], abstained,
                                   metadata.get("out_of_scope_label"))
        hits = [t in row and not a for row, t, a in zip(labels, targets, abstained)
                if t != metadata.get("out_of_scope_label")]
        k = metadata["top_k"]
        return {"accuracy": scores.pop("accuracy"),
                f"top_{k}_accuracy": round(float(np.mean(hits)), 6) if hits else 0.0,
                **scores, "examples": len(examples)}

    def prediction_inputs(self, path):
        from seqtasks.data.readers import read_columns

        for line, (text,) in read_columns(path, [self.config["data"]["text_column"]]):
            yield f"{path}:{line}", {"text": text}

    @classmethod
    def format_prediction(cls, inputs, outputs):
        abstained = outputs.get("abstained", [False] * len(inputs))
        return [line for text, replies, scores, silent
                in zip(inputs, outputs["replies"], outputs["scores"], abstained)
                for line in [f"> {text if len(text) <= 80 else text[:77] + '...'}",
                             *([f"  (no reply: best score {scores[0]:.3f} under export.min_score"
                                " or out of scope)"] if silent else
                               [f"  {s:.3f}  {r.decode('utf-8')}"
                                for r, s in zip(replies, scores)])]]
