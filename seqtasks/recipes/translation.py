"""translation: many-to-many (seq2seq). A sentence -> its translation.

source text -> tokens -> Embedding(mask_zero) -> (bidirectional, stackable) ElmanRNN encoder
-> final states projected into an ElmanRNN decoder (teacher forcing in training) -> attention
over the encoder outputs (source padding masked) -> the prediction head -> softmax over the
target vocabulary. Greedy or beam-search decoding runs inside the graph (see
:mod:`seqtasks.decoding`), the same for evaluation, ``predict`` and the export.
"""

from seqtasks.config import Key
from seqtasks.errors import DataError
from seqtasks.recipes import register
from seqtasks.recipes.base import Recipe


def _tokenization_keys(side):
    return {
        f"{side}_lowercase": Key(True, (bool,), f"lowercase the {side} text"),
        f"{side}_split_punctuation": Key(True, (bool,), f"make each punctuation character of "
                                         f"the {side} text a token of its own"),
        f"{side}_level": Key("word", (str,), f"{side} tokens: words or characters",
                             ("word", "char")),
    }


@register
class Translation(Recipe):
    name = "translation"
    description = "many-to-many (seq2seq): a sentence -> its translation, with attention"
    schema_extra = {
        "data": {
            "source_column": Key(0, (int,), "TSV files: 0-based column of the source sentence"),
            "target_column": Key(1, (int,), "TSV files: 0-based column of the target sentence"),
            **_tokenization_keys("source"),
            **_tokenization_keys("target"),
            "max_tokens": Key(20000, (int,), "largest vocabulary of each side, padding and "
                              "unknown token included"),
            "min_count": Key(1, (int,), "tokens seen fewer times in training are unknown"),
            "max_length": Key(60, (int,), "training pairs with a side longer than this many "
                              "tokens are left out (counted in the data summary)"),
        },
        "model": {
            "bidirectional": Key(True, (bool,), "bidirectional encoder layers"),
            "embedding_dim": 128,
            "units": Key(256, (int,), "hidden units of the decoder and of each encoder "
                         "direction"),
            "dropout": Key(0.2, (float,), "dropout on embeddings, recurrent inputs and the head"),
            "hidden_units": Key(256, (int,), "size of the ReLU layer of the prediction head"),
            "attention": Key("bahdanau", (str,), "attention over the encoder outputs",
                             ("bahdanau", "luong", "none")),
        },
        "train": {
            "epochs": 30,
            "batch_size": Key(64, (int,), "sentence pairs per batch"),
            "early_stopping_patience": 4,
            "reduce_lr_patience": 2,
            "monitor": Key("val_loss", (str,), "validation metric for early stopping, "
                           "learning-rate cuts and the best weights"),
        },
        "decode": {
            "strategy": Key("beam", (str,), "decoding strategy", ("beam", "greedy")),
            "beam_width": Key(4, (int,), "hypotheses kept per sentence (beam search)"),
            "length_penalty": Key(0.6, (float,), "GNMT length penalty alpha (beam search); 0 "
                                  "ranks by total log-probability"),
            "max_length_ratio": Key(2.0, (float,), "a translation has at most ratio x source "
                                    "tokens + offset tokens"),
            "max_length_offset": Key(10, (int,), "see max_length_ratio"),
            "max_length": Key(200, (int,), "hard cap on the tokens of a translation"),
        },
    }

    # ----- reading -----------------------------------------------------------------------
    def builtin_splits(self, seed):
        from seqtasks.data.builtin import translation as builtin

        return {split: [(source, target, "built-in data") for source, target in pairs]
                for split, pairs in builtin.splits(seed).items()}

    def read_file(self, spec, split):
        from seqtasks.data.parallel import read_pairs

        data = self.config["data"]
        pairs = read_pairs(spec, data["source_column"], data["target_column"],
                           name=f"data.{split}")
        return [(p.source, p.target, p.where) for p in pairs]

    def read_tfds(self, name, split):
        import tensorflow_datasets as tfds

        try:
            dataset, info = tfds.load(name, split=split, with_info=True)
        except Exception as e:  # TFDS raises many types; report one line
            raise DataError(f"tfds:{name}:{split}: cannot load ({type(e).__name__}: {e})") from None
        keys = info.supervised_keys
        if not keys or len(keys) != 2:
            raise DataError(f"tfds:{name}: no (source, target) supervised keys in its info")
        source_key, target_key = keys
        pairs = []
        for i, example in enumerate(tfds.as_numpy(dataset)):
            source = example[source_key].decode("utf-8").strip()
            target = example[target_key].decode("utf-8").strip()
            if source and target:
                pairs.append((source, target, f"tfds:{name}:{split}[{i}]"))
        return pairs

    # ----- data --------------------------------------------------------------------------
    def _tokenizer_config(self, side):
        data = self.config["data"]
        return {"lowercase": data[f"{side}_lowercase"],
                "split_punctuation": data[f"{side}_split_punctuation"],
                "level": data[f"{side}_level"]}

    def _vocabulary(self, token_lists, specials):
        """The most frequent tokens, leaving room for ``specials`` ids (padding, unknown...)."""
        from seqtasks.layers.tokens import vocabulary_by_count

        data = self.config["data"]
        return vocabulary_by_count(token_lists, data["max_tokens"] - specials, data["min_count"])

    def build_datasets(self):
        import tensorflow as tf

        from seqtasks.data.batching import batch_sequences, length_boundaries, padded_fraction
        from seqtasks.layers import TextTokenizer
        from seqtasks.layers.seq2seq import vocabulary_lookups
        from seqtasks.layers.tokens import tokenize_texts

        data, train = self.config["data"], self.config["train"]
        splits = self.load_splits()
        tokenizers = {side: TextTokenizer(**self._tokenizer_config(side))
                      for side in ("source", "target")}
        tokens = {split: {side: tokenize_texts(tokenizers[side], [p[i] for p in pairs])
                          for i, side in enumerate(("source", "target"))}
                  for split, pairs in splits.items()}
        for split in ("validation", "test"):
            for (source, _, where), src in zip(splits[split], tokens[split]["source"]):
                if not src:
                    raise DataError(f"{where}: the source sentence {source!r} has no tokens")
        limit = data["max_length"]
        keep = [len(s) <= limit and len(t) <= limit
                for s, t in zip(tokens["train"]["source"], tokens["train"]["target"])]
        for side in ("source", "target"):
            tokens["train"][side] = [t for t, k in zip(tokens["train"][side], keep) if k]
        if not tokens["train"]["source"]:
            raise DataError(f"{self._describe('train')}: every training pair is longer than "
                            f"data.max_length={limit} tokens")
        self.seq2seq_config = self._model_config(
            self._vocabulary(tokens["train"]["source"], 2),
            self._vocabulary(tokens["train"]["target"], 4))
        self.references = {split: [target for _, target, _ in pairs]
                           for split, pairs in splits.items()}
        self.sources = {split: [source for source, _, _ in pairs]
                        for split, pairs in splits.items()}
        source_lookup, target_lookup = vocabulary_lookups(
            self.seq2seq_config["source_vocabulary"], self.seq2seq_config["target_vocabulary"])

        def encode(source, target):
            source_ids = tf.cast(source_lookup(source), tf.int32)
            target_ids = tf.cast(target_lookup(
                tf.concat([["<s>"], target, ["</s>"]], 0)), tf.int32)
            weights = tf.ones_like(target_ids[1:], tf.float32)
            return (source_ids, target_ids[:-1]), target_ids[1:], weights

        boundaries = length_boundaries([len(s) for s in tokens["train"]["source"]], buckets=16)
        datasets = {}
        for split in splits:
            ds = tf.data.Dataset.from_tensor_slices((
                tf.ragged.constant(tokens[split]["source"], dtype=tf.string),
                tf.ragged.constant(tokens[split]["target"], dtype=tf.string),
            )).map(encode).cache()
            datasets[split] = batch_sequences(
                ds, train["batch_size"], boundaries=boundaries, bucketing=train["bucketing"],
                shuffle_seed=train["seed"] if split == "train" else None)
        self.summary = {
            "pairs": {split: len(pairs) for split, pairs in splits.items()},
            "left_out_too_long": keep.count(False),
            "vocabulary": {"source": len(self.seq2seq_config["source_vocabulary"]) + 2,
                           "target": len(self.seq2seq_config["target_vocabulary"]) + 4},
            "padded_fraction": round(padded_fraction(datasets["train"]), 4),
        }
        return datasets

    def _model_config(self, source_vocabulary, target_vocabulary):
        model = self.config["model"]
        return {
            "source_vocabulary": source_vocabulary, "target_vocabulary": target_vocabulary,
            "source_tokenizer": self._tokenizer_config("source"),
            "target_tokenizer": self._tokenizer_config("target"),
            "cell": model["cell"], "units": model["units"],
            "embedding_dim": model["embedding_dim"], "layers": model["layers"],
            "bidirectional": model["bidirectional"], "attention": model["attention"],
            "hidden_units": model["hidden_units"], "dropout": model["dropout"],
            "decoding": dict(self.config["decode"]),
            "name": "seq2seq",
        }

    # ----- model -------------------------------------------------------------------------
    def build_model(self):
        import keras

        from seqtasks.distribute import get_strategy
        from seqtasks.layers import Seq2Seq
        from seqtasks.training import compile_model

        train = self.config["train"]
        with get_strategy(train["strategy"]).scope():
            source_ids = keras.Input((None,), dtype="int32", name="source_ids")
            target_in = keras.Input((None,), dtype="int32", name="target_in")
            probs = Seq2Seq(**self.seq2seq_config)([source_ids, target_in])
            model = keras.Model([source_ids, target_in], probs, name=self.name)
            compile_model(model, train, weighted_metrics=[
                keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        return model

    # ----- metrics -----------------------------------------------------------------------
    def translate(self, model, texts, batch_size=64):
        """Translations of ``texts`` (a list of str) with the model's own in-graph decoder."""
        import numpy as np
        import tensorflow as tf

        layer = model.get_layer("seq2seq")
        # No AutoGraph: the decoders' loops are explicit, and AutoGraph would re-read the source.
        run = tf.function(layer.translate, input_signature=[tf.TensorSpec([None], tf.string)],
                          autograph=False)
        out = []
        for start in range(0, len(texts), batch_size):
            batch = np.array(texts[start:start + batch_size], dtype=object)
            out += [t.decode("utf-8") for t in run(batch)[0].numpy()]
        return out

    @staticmethod
    def perplexity(model, dataset):
        """exp of the mean cross-entropy per target token (padding excluded)."""
        import math

        import numpy as np

        total = count = 0.0
        for features, targets, weights in dataset:
            probs = model.predict_on_batch(features)
            targets, weights = targets.numpy(), weights.numpy()
            picked = np.take_along_axis(probs, targets[..., None], axis=-1)[..., 0]
            total -= float((np.log(np.maximum(picked, 1e-12)) * weights).sum())
            count += float(weights.sum())
        return math.exp(total / max(count, 1.0))

    def evaluate(self, model, datasets):
        import sacrebleu

        hypotheses = self.translate(model, self.sources["test"])
        references = self.references["test"]
        lowercase = self.config["data"]["target_lowercase"]
        bleu = sacrebleu.corpus_bleu(hypotheses, [references], lowercase=lowercase)
        chrf = sacrebleu.corpus_chrf(hypotheses, [references])
        self.samples = list(zip(self.sources["test"], hypotheses, references))[:5]
        return {"bleu": round(bleu.score, 4), "chrf": round(chrf.score, 4),
                "perplexity": round(self.perplexity(model, datasets["test"]), 4),
                "sentences": len(hypotheses)}

    def report(self, metrics):
        lines = []
        for source, hypothesis, reference in getattr(self, "samples", []):
            lines += [f"  source:      {source}", f"  translation: {hypothesis}",
                      f"  reference:   {reference}"]
        return lines

    # ----- export ------------------------------------------------------------------------
    def inference_model(self, model):
        return model

    def serving_function(self, inference_model):
        import tensorflow as tf

        layer = inference_model.get_layer("seq2seq")

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")],
                     autograph=False)
        def serve(text):
            translation, score = layer.translate(text)
            return {"translation": translation, "score": score}

        return serve

    def export_assets(self):
        return {"decode": dict(self.config["decode"])}

    @classmethod
    def format_prediction(cls, inputs, outputs):
        return [t.decode("utf-8") for t in outputs["translation"]]
