"""tagging: many-to-many. A sentence -> one tag per token (POS, chunks, named entities).

tokens -> word Embedding(mask_zero) joined with character-level word features (a small
bidirectional Elman RNN, or a CNN, over each word's characters) -> Bidirectional(ElmanRNN)
layers returning sequences -> the prediction head on every token -> softmax over the tags.
"""

from seqtasks.config import Key
from seqtasks.errors import DataError
from seqtasks.recipes import register
from seqtasks.recipes.base import Recipe

#: Tag prefixes of chunk encodings; a tag set made of these and "O" is scored by entities.
ENTITY_SCHEMES = {"IOB": "BI", "IOBES": "BIES", "BILOU": "BILU"}


def entity_scheme(tags):
    """``"IOB"``, ``"IOBES"`` or ``"BILOU"`` when ``tags`` form a chunk encoding, else None."""
    prefixes = set()
    for tag in tags:
        if tag == "O":
            continue
        if len(tag) < 3 or tag[1] not in "-_" or tag[0] not in "BIESLU":
            return None
        prefixes.add(tag[0])
    if not prefixes:
        return None
    for scheme, allowed in ENTITY_SCHEMES.items():
        if prefixes <= set(allowed):
            return scheme
    return None


@register
class Tagging(Recipe):
    name = "tagging"
    description = "many-to-many: a sentence -> one tag per token (POS, chunking, NER)"
    schema_extra = {
        "data": {
            "token_column": Key(0, (int,), "column files (.conll/.txt/.iob/.bio): 0-based "
                                "column of the token; CoNLL-U tokens are always FORM"),
            "tag_column": Key("upos", (str, int), "CoNLL-U: column name (upos, xpos, ...) or "
                              "index; column files: index, negative from the end (the default "
                              "means the last column); tfds: the feature name"),
            "lowercase": Key(True, (bool,), "lowercase words for the word vocabulary "
                             "(characters keep their case)"),
            "max_tokens": Key(50000, (int,), "largest word vocabulary, padding and OOV included"),
            "min_count": Key(1, (int,), "words seen fewer times in training are out of "
                             "vocabulary"),
            "max_word_chars": Key(20, (int,), "characters of a word the character encoder "
                                  "reads (the first ones)"),
            "word_dropout": Key(0.0, (float,), "in training, share of words replaced by the "
                                "out-of-vocabulary word, so the model learns to tag unseen "
                                "words from their characters and context"),
            "rare_word_dropout": Key(0.25, (float,), "alpha of frequency-based word dropout: in "
                                     "training a word seen n times is replaced by the "
                                     "out-of-vocabulary word with probability "
                                     "alpha / (alpha + n); 0 turns it off"),
        },
        "model": {
            "bidirectional": True,
            "embedding_dim": Key(100, (int,), "size of the word embeddings"),
            "dropout": Key(0.5, (float,), "dropout on the token features and recurrent inputs"),
            "hidden_units": Key(128, (int,), "size of the ReLU layer of the prediction head"),
            "char_encoder": Key("rnn", (str,), "character-level word features",
                                ("rnn", "cnn", "none")),
            "char_embedding_dim": Key(32, (int,), "size of the character embeddings"),
            "char_units": Key(64, (int,), "units of the character encoder (per direction "
                              "for rnn)"),
        },
        "train": {
            "epochs": 30,
            "early_stopping_patience": 4,
            "reduce_lr_patience": 2,
            "monitor": Key("val_accuracy", (str,), "validation metric for early stopping, "
                           "learning-rate cuts and the best weights"),
        },
    }

    # ----- reading -----------------------------------------------------------------------
    def builtin_splits(self, seed):
        from seqtasks.data.builtin import tagging as builtin

        return {split: [(tokens, tags, "built-in data", None) for tokens, tags in examples]
                for split, examples in builtin.splits(seed).items()}

    def read_file(self, path, split):
        from seqtasks.data.conll import conll_format, read_tagged

        data = self.config["data"]
        tag_column = data["tag_column"]
        if conll_format(path) == "conllu":
            sentences = read_tagged(path, None, tag_column)
        else:
            default = self.schema()["data"]["tag_column"].default
            sentences = read_tagged(path, data["token_column"],
                                    None if tag_column == default else tag_column)
        return [(s.tokens, s.tags, s.source, s.lines) for s in sentences]

    def read_tfds(self, name, split):
        import tensorflow_datasets as tfds

        column = self.config["data"]["tag_column"]
        try:
            dataset, info = tfds.load(name, split=split, with_info=True)
        except Exception as e:  # TFDS raises many types; report one line
            raise DataError(f"tfds:{name}:{split}: cannot load ({type(e).__name__}: {e})") from None
        features = info.features
        for feature in ("tokens", column):
            if feature not in features:
                raise DataError(
                    f"tfds:{name}: no feature {feature!r} (features: {', '.join(features)}); "
                    "set data.tag_column to the feature holding the tags"
                )
        names = getattr(getattr(features[column], "feature", None), "names", None)
        examples = []
        for i, example in enumerate(tfds.as_numpy(dataset)):
            where = f"tfds:{name}:{split}[{i}]"
            tokens = [t.decode("utf-8") for t in example["tokens"]]
            tags = [names[int(t)] if names else t.decode("utf-8") for t in example[column]]
            if len(tokens) != len(tags):
                raise DataError(f"{where}: {len(tokens)} tokens but {len(tags)} tags")
            if tokens:
                examples.append((tokens, tags, where, None))
        return examples

    # ----- data --------------------------------------------------------------------------
    def _check_tags(self, splits):
        index = {tag: i for i, tag in enumerate(self.tags)}
        for split in ("validation", "test"):
            for tokens, tags, where, lines in splits[split]:
                for position, tag in enumerate(tags):
                    if tag not in index:
                        at = f"{where}:{lines[position]}" if lines else where
                        raise DataError(
                            f"{at}: tag {tag!r} (token {tokens[position]!r}) never appears in "
                            f"the training data; the model can only predict the "
                            f"{len(self.tags)} training tags, so add sentences with it to the "
                            "training data or fix the tag"
                        )
        return index

    def _vocabularies(self, sentences):
        import collections

        data = self.config["data"]
        words, chars = collections.Counter(), collections.Counter()
        for tokens, *_ in sentences:
            for token in tokens:
                words[token.lower() if data["lowercase"] else token] += 1
                chars.update(token[: data["max_word_chars"]])
        kept = [(w, n) for w, n in words.most_common(max(data["max_tokens"] - 2, 0))
                if n >= data["min_count"] and w not in ("", "[UNK]")]
        return kept, sorted(c for c in chars if c != "[UNK]")

    def _oov_fraction(self, sentences, vocabulary):
        fold = str.lower if self.config["data"]["lowercase"] else str
        tokens = [fold(token) for tokens, *_ in sentences for token in tokens]
        return sum(token not in vocabulary for token in tokens) / max(len(tokens), 1)

    def build_datasets(self):
        import tensorflow as tf

        from seqtasks.data.batching import batch_sequences, length_boundaries, padded_fraction
        from seqtasks.data.noise import drop_rare_tokens, drop_tokens
        from seqtasks.layers import TokenIds

        data, train = self.config["data"], self.config["train"]
        splits = self.load_splits()
        self.tags = sorted({tag for _, tags, _, _ in splits["train"] for tag in tags})
        index = self._check_tags(splits)
        counted, chars = self._vocabularies(splits["train"])
        words = [w for w, _ in counted]
        counts = [0, 0] + [n for _, n in counted]  # by word id: padding, OOV, then the words
        self.token_ids = TokenIds(words, chars, lowercase=data["lowercase"],
                                  max_word_chars=data["max_word_chars"], name="token_ids")

        def encode(tokens, tags):
            word_ids, char_ids = self.token_ids(tokens[None])
            return (word_ids[0], char_ids[0]), tags, tf.ones_like(tags, tf.float32)

        def noisy(features, tags, weights):
            word_ids, char_ids = features
            if data["word_dropout"] > 0:
                word_ids = drop_tokens(word_ids, data["word_dropout"])
            if data["rare_word_dropout"] > 0:
                word_ids = drop_rare_tokens(word_ids, counts, data["rare_word_dropout"])
            return (word_ids, char_ids), tags, weights

        # Sentence lengths spread widely (1 to 100+ tokens): fine buckets keep padding low.
        boundaries = length_boundaries([len(tokens) for tokens, *_ in splits["train"]],
                                       buckets=32)
        datasets = {}
        for split, examples in splits.items():
            tokens = tf.ragged.constant([t for t, *_ in examples], dtype=tf.string)
            targets = tf.ragged.constant([[index[tag] for tag in tags] for _, tags, *_ in
                                          examples], dtype=tf.int32)
            ds = tf.data.Dataset.from_tensor_slices((tokens, targets)).map(encode).cache()
            if split == "train" and (data["word_dropout"] > 0 or data["rare_word_dropout"] > 0):
                ds = ds.map(noisy)
            datasets[split] = batch_sequences(
                ds, train["batch_size"], boundaries=boundaries, bucketing=train["bucketing"],
                shuffle_seed=train["seed"] if split == "train" else None)
        self.summary = {
            "sentences": {split: len(examples) for split, examples in splits.items()},
            "tokens": {split: int(sum(len(t) for t, *_ in examples))
                       for split, examples in splits.items()},
            "tags": len(self.tags),
            "entity_scheme": entity_scheme(self.tags),
            "vocabulary": {"words": self.token_ids.word_vocabulary_size,
                           "chars": self.token_ids.char_vocabulary_size},
            "test_oov_fraction": round(self._oov_fraction(splits["test"], set(words)), 4),
            "padded_fraction": round(padded_fraction(datasets["train"]), 4),
        }
        return datasets

    # ----- model -------------------------------------------------------------------------
    def build_model(self):
        import keras

        from seqtasks.distribute import get_strategy
        from seqtasks.layers import CHARACTER_ENCODERS, PredictionHead, recurrent_stack
        from seqtasks.training import compile_model

        model_config, train = self.config["model"], self.config["train"]
        with get_strategy(train["strategy"]).scope():
            word_ids = keras.Input((None,), dtype="int32", name="word_ids")
            char_ids = keras.Input((None, None), dtype="int32", name="char_ids")
            x = keras.layers.Embedding(self.token_ids.word_vocabulary_size,
                                       model_config["embedding_dim"], mask_zero=True,
                                       name="word_embedding")(word_ids)
            encoder = CHARACTER_ENCODERS.get(model_config["char_encoder"])
            if encoder is not None:
                characters = encoder(self.token_ids.char_vocabulary_size,
                                     model_config["char_embedding_dim"],
                                     model_config["char_units"], name="characters")(char_ids)
                x = keras.layers.Concatenate(name="token_features")([x, characters])
            if model_config["dropout"]:
                x = keras.layers.Dropout(model_config["dropout"])(x)
            x = recurrent_stack(x, model_config, return_sequences=True)
            probs = PredictionHead(len(self.tags), model_config["hidden_units"],
                                   dropout=model_config["dropout"], name="head")(x)
            model = keras.Model([word_ids, char_ids], probs, name=self.name)
            compile_model(model, train, weighted_metrics=[
                keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        return model

    # ----- metrics -----------------------------------------------------------------------
    def predict_tags(self, model, dataset):
        """Gold and predicted tag sequences (tag names, padding dropped) of every sentence."""
        import numpy as np

        gold, predicted = [], []
        for features, targets, weights in dataset:
            best = np.argmax(model.predict_on_batch(features), axis=-1)
            for row_gold, row_best, row_weights in zip(targets.numpy(), best, weights.numpy()):
                keep = row_weights > 0
                gold.append([self.tags[i] for i in row_gold[keep]])
                predicted.append([self.tags[i] for i in row_best[keep]])
        return gold, predicted

    def evaluate(self, model, datasets):
        from seqtasks.metrics import tagging_scores

        gold, predicted = self.predict_tags(model, datasets["test"])
        return tagging_scores(gold, predicted, entity_scheme(self.tags))

    def report(self, metrics):
        from seqtasks.metrics import format_table

        return format_table(metrics.get("per_tag", {}),
                            "entity" if entity_scheme(self.tags) else "tag")

    # ----- export ------------------------------------------------------------------------
    def inference_model(self, model):
        import keras

        from seqtasks.layers import TokenIds, WhitespaceTokenizer

        text = keras.Input(shape=(), dtype="string", name="text")
        tokens = WhitespaceTokenizer(name="tokens")(text)
        token_ids = TokenIds.from_config(self.token_ids.get_config())
        word_ids, char_ids = token_ids(tokens)
        return keras.Model(text, model([word_ids, char_ids]), name=f"{self.name}_inference")

    def serving_function(self, inference_model):
        import tensorflow as tf

        tag_names = tf.constant(self.tags)
        tokenizer = inference_model.get_layer("tokens")
        token_ids = inference_model.get_layer("token_ids")
        tagger = inference_model.get_layer(self.name)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(text):
            tokens = tokenizer(text)  # once: the same tokens feed the tagger and the output
            real = tf.not_equal(tokens, "")
            best = tf.argmax(tagger(list(token_ids(tokens))), axis=-1)
            tags = tf.where(real, tf.gather(tag_names, best), "")
            return {"tokens": tokens, "tags": tags,
                    "lengths": tf.reduce_sum(tf.cast(real, tf.int32), axis=1)}

        return serve

    def export_assets(self):
        return {"tags": self.tags, "entity_scheme": entity_scheme(self.tags)}

    @classmethod
    def format_prediction(cls, inputs, outputs):
        lines = []
        for tokens, tags, length in zip(outputs["tokens"], outputs["tags"], outputs["lengths"]):
            lines += [f"{token.decode('utf-8')}\t{tag.decode('utf-8')}"
                      for token, tag in zip(tokens[:length], tags[:length])]
            lines.append("")
        return lines
