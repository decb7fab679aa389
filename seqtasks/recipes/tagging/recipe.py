"""tagging: many-to-many. A sentence -> one tag per token (POS, chunks, named entities).

text -> word and character ids (:class:`TaggingPreprocessor`) -> word Embedding(mask_zero)
(with ``data.tokenizer = "subword"``: the mean embedding of each word's pieces)
joined with character-level word features (a small bidirectional Elman RNN, or a CNN, over
each word's characters) -> Bidirectional(ElmanRNN) layers returning sequences -> the
prediction head on every token -> softmax over the tags -> tokens, tags and lengths.
"""

from seqtasks.config import Key, fraction, positive, subword_keys
from seqtasks.errors import DataError
from seqtasks.recipes import register
from seqtasks.recipes.base import Recipe
from seqtasks.recipes.tagging.data import TAG_COLUMN, TaggingReader


@register
class Tagging(Recipe):
    """Many-to-many, bidirectional: a sentence -> one tag per token (POS, chunks, entities)
    from CoNLL-U or column files. Test metrics: token accuracy and, for IOB/BIO tags, seqeval's
    entity precision, recall and F1 with a per-tag table.

    Example: ``seqtasks.run("tagging", {"data.train": "en_ewt-ud-train.conllu"})``."""
    name = "tagging"
    description = "many-to-many: a sentence -> one tag per token (POS, chunking, NER)"
    schema_extra = {
        "data": {
            "token_column": Key(0, (int,), "column files (.conll/.txt/.iob/.bio): 0-based "
                                "column of the token; CoNLL-U tokens are always FORM"),
            "tag_column": Key(TAG_COLUMN, (str, int), "CoNLL-U: column name (upos, xpos, ...) or "
                              "index; column files: index, negative from the end (the default "
                              "means the last column); tfds: the feature name"),
            "tokenizer": Key("word", (str,), "what the word vectors are made of: the word "
                             "(its own embedding) or subword (the mean of its SentencePiece "
                             "pieces, learned from the training sentences); one tag per word "
                             "either way", ("word", "subword")),
            **subword_keys(),
            "lowercase": Key(True, (bool,), "lowercase words for the word vocabulary "
                             "(characters keep their case)"),
            "max_tokens": Key(50000, (int,), "largest word vocabulary, padding and OOV included"),
            "min_count": Key(1, (int,), "words seen fewer times in training are out of "
                             "vocabulary"),
            "max_word_chars": positive(20, "characters of a word the character encoder reads "
                                       "(the first ones)"),
            "word_dropout": fraction(0.0, "in training, share of words replaced by the "
                                     "out-of-vocabulary word, so the model learns to tag unseen "
                                     "words from their characters and context"),
            "unseen_tags": Key("score", (str,), "a validation or test tag never seen in "
                               "training: score (keep it as gold: its tokens count as errors, as "
                               "conlleval counts them, with a warning) or error (stop)",
                               ("score", "error")),
            "rare_word_dropout": fraction(0.25, "alpha of frequency-based word dropout: in "
                                          "training a word seen n times is replaced by the "
                                          "out-of-vocabulary word with probability "
                                          "alpha / (alpha + n); 0 turns it off"),
        },
        "model": {
            "bidirectional": True,
            "embedding_dim": 100,
            "dropout": 0.5,
            "hidden_units": 128,
            "char_encoder": Key("rnn", (str,), "character-level word features",
                                ("rnn", "cnn", "none")),
            "char_embedding_dim": positive(32, "size of the character embeddings"),
            "char_units": positive(64, "units of the character encoder (per direction for rnn)"),
        },
        "train": {"epochs": 30, "early_stopping_patience": 4, "reduce_lr_patience": 2,
                  "monitor": "val_accuracy"},
    }
    reader_cls = TaggingReader
    #: The export's signatures: ``{name: (inputs, outputs)}``, each ``{key: "dtype [shape]:
    #: meaning"}`` (checked against the export by the contract test; shown in the reference).
    documented_signatures = {"serving_default": (
        {"text": "string [batch]: sentences, tokens split on whitespace"},
        {"tokens": "string [batch, steps]: the tokens (padded with '')",
         "tags": "string [batch, steps]: one tag per token",
         "lengths": "int32 [batch]: tokens per sentence"})}
    #: Sentence lengths spread widely (1 to 100+ tokens): fine buckets keep padding low.
    length_buckets = 32

    # ----- data --------------------------------------------------------------------------
    def make_preprocessor(self):
        from seqtasks.recipes.tagging.preprocessor import TaggingPreprocessor

        data = self.config["data"]
        return TaggingPreprocessor(data["lowercase"], data["max_tokens"], data["min_count"],
                                   data["max_word_chars"], unseen_tags=data["unseen_tags"],
                                   tokenizer=data["tokenizer"],
                                   subwords=(data["subword_vocab_size"], data["subword_type"]),
                                   name="preprocessor")

    def dataset(self, split, examples):
        """Training words dropped (``data.word_dropout``, ``data.rare_word_dropout``)."""
        from seqtasks.data.noise import drop_rare_tokens, drop_tokens

        dataset = super().dataset(split, examples)
        data, counts = self.config["data"], self.preprocessor.id_counts()

        def noisy(features, tags, weights):
            word_ids, char_ids = features
            if data["word_dropout"] > 0:
                word_ids = drop_tokens(word_ids, data["word_dropout"])
            if data["rare_word_dropout"] > 0:
                word_ids = drop_rare_tokens(word_ids, counts, data["rare_word_dropout"])
            return (word_ids, char_ids), tags, weights

        noise = data["word_dropout"] > 0 or data["rare_word_dropout"] > 0
        return dataset.map(noisy) if noise and split == "train" else dataset

    def data_summary(self, splits, datasets):
        # train: the sentence lengths counted in the adaptation pass (no pass of its own)
        tokens = {split: sum(len(e.input) for e in examples)
                  for split, examples in splits.items() if split != "train"}
        tokens["train"] = sum(length * n for length, n in self.length_counts.items())
        return {"tokens": tokens,
                "test_oov_fraction": round(self.preprocessor.oov_fraction(splits["test"]), 4),
                **super().data_summary(splits, datasets)}

    # ----- model -------------------------------------------------------------------------
    def network(self):
        import keras

        from seqtasks.layers import CHARACTER_ENCODERS, PredictionHead, backbone

        model, p = self.config["model"], self.preprocessor
        steps = (None,) if p.level == "word" else (None, None)  # subword: each word's pieces
        word_ids = keras.Input(steps, dtype="int32", name="word_ids")
        char_ids = keras.Input((None, None), dtype="int32", name="char_ids")
        encoder = CHARACTER_ENCODERS.get(model["char_encoder"])
        characters = None if encoder is None else lambda: encoder(
            p.char_vocabulary_size, model["char_embedding_dim"], model["char_units"],
            name="characters")(char_ids)
        x = backbone(word_ids, p.word_vocabulary_size, model, features=characters,
                     embedding_name="word_embedding")
        probs = PredictionHead(len(p.tags), model["hidden_units"], dropout=model["dropout"],
                               name="head")(x)
        return keras.Model([word_ids, char_ids], probs, name=self.name)

    def metrics(self):
        import keras

        return (), [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    # ----- export and metrics ------------------------------------------------------------
    def postprocess(self, outputs, inputs):
        return self.preprocessor.tag_outputs(outputs, inputs["text"])

    def export_assets(self):
        return {"tags": self.preprocessor.tags, "entity_scheme": self.preprocessor.entity_scheme}

    def score(self, signatures, examples, metadata):
        from seqtasks.metrics import tagging_scores
        from seqtasks.scoring import Scored

        out = self.run_signature(signatures["serving_default"], examples)
        predicted = []
        for e, tags, length in zip(examples, out["tags"], out["lengths"]):
            if length != len(e.target):
                where = f"{e.where}:{e.lines[0]}" if e.lines else e.where
                raise DataError(f"{where}: {len(e.target)} tokens, but the model reads {length} "
                                "from them joined by spaces (a token holds whitespace?)")
            predicted.append([tag.decode("utf-8") for tag in tags[:length]])
        return Scored(tagging_scores([e.target for e in examples], predicted,
                                     metadata["entity_scheme"]), predictions=predicted)

    def report(self, scored):
        from seqtasks.metrics import format_table

        metrics = scored.metrics
        return format_table(metrics.get("per_tag", {}), "entity" if "f1" in metrics else "tag")
