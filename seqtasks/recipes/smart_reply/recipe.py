"""smart_reply: many-to-one. A message -> the best replies from a fixed reply dictionary.

text -> token ids (:class:`SmartReplyPreprocessor`) -> Embedding(mask_zero) -> ElmanRNN layers
-> pooling -> prediction head (softmax over the reply labels) -> the top ``export.top_k`` replies.

It can stay silent (:class:`~seqtasks.abstaining.Abstaining`): see ``export.min_score``
and ``data.out_of_scope_label``.
"""

from seqtasks.abstaining import DATA_KEYS, EXPORT_KEYS, Abstaining
from seqtasks.config import Key, fraction, positive, subword_keys, tokenizer_key
from seqtasks.recipes import register
from seqtasks.recipes.base import Recipe
from seqtasks.recipes.smart_reply.data import SmartReplyReader


@register
class SmartReply(Abstaining, Recipe):
    """Many-to-one: a message -> the best replies from a fixed reply dictionary, or none
    (``export.min_score``, ``data.out_of_scope_label``). Test metrics: accuracy and top-3
    accuracy (in scope), and how often it abstains.

    Example: ``seqtasks.run("smart_reply", {"data.train": "train.csv", "train.epochs": 5})``."""
    name = "smart_reply"
    description = "many-to-one: a message -> the best replies from a fixed reply dictionary"
    schema_extra = {
        "data": {
            "text_column": Key("text", (str, int), "column (name or 0-based index) of the message"),
            "label_column": Key("label", (str, int), "column of the label (intent / reply id)"),
            "replies": Key(None, (str,), "file of label,reply rows: the text shown for a label"),
            "tokenizer": tokenizer_key("word", "message tokens"),
            **subword_keys(),
            "max_tokens": positive(20000, "largest vocabulary, padding and OOV included"),
            "max_length": positive(64, "messages are cut to this many tokens"),
            "unseen_labels": Key("score", (str,), "a validation or test label never seen in "
                                 "training (other than data.out_of_scope_label): score (keep "
                                 "its messages: they count as errors, with a warning) or "
                                 "error (stop)", ("score", "error")),
            "word_dropout": fraction(0.0, "in training, share of tokens replaced by the "
                                     "out-of-vocabulary token, so the model learns to cope with "
                                     "unseen words"),
            **DATA_KEYS,
        },
        "model": {
            "bidirectional": True,
            "dropout": 0.3,
            "hidden_units": 128,
            "pooling": Key("attention", (str,), "what feeds the head: the attention-weighted "
                           "sum, mean or max over all steps (padding excluded), or the last "
                           "hidden state", ("attention", "mean", "max", "last")),
        },
        "train": {"epochs": 30, "early_stopping_patience": 5, "reduce_lr_patience": 2,
                  "monitor": "val_accuracy",
                  "label_smoothing": fraction(0.1, "share of the target spread evenly over "
                                              "all labels (0 = plain cross-entropy)")},
        "export": {"top_k": positive(3, "replies returned per message"), **EXPORT_KEYS},
    }
    reader_cls = SmartReplyReader
    #: The export's signatures: ``{name: (inputs, outputs)}``, each ``{key: "dtype [shape]:
    #: meaning"}`` (checked against the export by the contract test; shown in the reference).
    documented_signatures = {"serving_default": (
        {"text": "string [batch]: the messages"},
        {"replies": "string [batch, export.top_k]: the best replies, best first ('' when "
                    "abstained)",
         "scores": "float32 [batch, export.top_k]: their probabilities",
         "labels": "string [batch, export.top_k]: their labels",
         "abstained": "bool [batch]: the best score is under export.min_score, or out of "
                      "scope"})}

    def make_preprocessor(self):
        from seqtasks.recipes.smart_reply.preprocessor import SmartReplyPreprocessor

        data = self.config["data"]
        return SmartReplyPreprocessor(data["max_tokens"], data["max_length"],
                                      out_of_scope_label=data["out_of_scope_label"],
                                      unseen_labels=data["unseen_labels"],
                                      tokenizer=data["tokenizer"],
                                      subwords=(data["subword_vocab_size"],
                                                data["subword_type"]),
                                      reply_texts=self.reader.reply_texts(), name="preprocessor")

    def dataset(self, split, examples):
        """Training words dropped (``data.word_dropout``)."""
        from seqtasks.data.noise import drop_words

        dataset, rate = super().dataset(split, examples), self.config["data"]["word_dropout"]
        if split != "train" or rate == 0:
            return dataset
        return dataset.map(lambda *e: drop_words(*e, rate=rate))

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

    def postprocess(self, outputs, inputs):
        return self.preprocessor.top_replies(outputs, self.config["export"]["top_k"],
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
