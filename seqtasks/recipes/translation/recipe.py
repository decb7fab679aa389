"""translation: many-to-many (seq2seq). A sentence -> its translation.

source text -> ids (:class:`TranslationPreprocessor`) -> :class:`~seqtasks.layers.Seq2Seq`: an
ElmanRNN encoder, an attending ElmanRNN decoder (teacher forcing in training) and, in the
export, beam or greedy decoding in the graph. Its ``log_likelihood`` signature scores reference
translations (teacher forcing) for the test perplexity.
"""

from seqtasks.config import Key, decode_section, positive, subword_keys, tokenizer_key
from seqtasks.recipes import register
from seqtasks.recipes.base import Recipe
from seqtasks.recipes.translation.data import TranslationReader


def _tokenization_keys(side):
    return {f"{side}_lowercase": Key(True, (bool,), f"lowercase the {side} text"),
            f"{side}_split_punctuation": Key(True, (bool,), f"make each punctuation character "
                                             f"of the {side} text a token of its own"),
            f"{side}_tokenizer": tokenizer_key("word", f"{side} tokens")}


@register
class Translation(Recipe):
    """Many-to-many (seq2seq): a sentence -> its translation. An Elman encoder and an
    attending Elman decoder, beam search in the export; test metrics: sacreBLEU, chrF and the
    reference perplexity.

    Example: ``seqtasks.run("translation", {"data.train": "train.tsv"})``."""
    name = "translation"
    description = "many-to-many (seq2seq): a sentence -> its translation, with attention"
    schema_extra = {
        "data": {
            "source_column": Key(0, (int,), "TSV files: 0-based column of the source sentence"),
            "target_column": Key(1, (int,), "TSV files: 0-based column of the target sentence"),
            **_tokenization_keys("source"), **_tokenization_keys("target"),
            **subword_keys(),
            "max_tokens": positive(20000, "largest vocabulary of each side, padding and "
                                   "unknown token included"),
            "min_count": positive(1, "tokens seen fewer times in training are unknown"),
            "max_length": positive(60, "training pairs with a side longer than this many "
                                   "tokens are left out (counted in the data summary)"),
        },
        "model": {"bidirectional": True, "embedding_dim": 128, "units": 256, "dropout": 0.2,
                  "hidden_units": 256,
                  "attention": Key("bahdanau", (str,), "attention over the encoder outputs",
                                   ("bahdanau", "luong", "none"))},
        "train": {"epochs": 30, "batch_size": 64, "early_stopping_patience": 4,
                  "reduce_lr_patience": 2},
        "decode": {**decode_section(beam_width=4, length_penalty=0.6),
                   "max_length_ratio": positive(2.0, "a translation has at most ratio x source "
                                                "tokens + offset tokens", (float,)),
                   "max_length_offset": Key(10, (int,), "see max_length_ratio",
                                            bounds="non-negative")},
    }
    reader_cls = TranslationReader
    #: The export's signatures: ``{name: (inputs, outputs)}``, each ``{key: "dtype [shape]:
    #: meaning"}`` (checked against the export by the contract test; shown in the reference).
    documented_signatures = {
        "serving_default": ({"text": "string [batch]: source sentences"},
                            {"translation": "string [batch]: the translations",
                             "score": "float32 [batch]: their log-probabilities"}),
        "log_likelihood": ({"text": "string [batch]: source sentences",
                            "reference": "string [batch]: reference translations"},
                           {"nll": "float32 [batch]: the references' summed negative "
                                   "log-likelihood (teacher forcing)",
                            "tokens": "float32 [batch]: the tokens it sums over"})}
    length_buckets = 16

    def dataset(self, split, examples):
        """Training pairs with a side longer than ``data.max_length`` tokens are left out
        (counted in the adaptation pass); held-out splits are scored whole."""
        import tensorflow as tf

        from seqtasks.data.batching import nonzero_length

        if split != "train":
            return super().dataset(split, examples)
        longest = self.config["data"]["max_length"]
        short = self.encoded(examples).filter(lambda x, y, w: tf.logical_and(
            nonzero_length(x[0]) <= longest, nonzero_length(y) <= longest + 1))
        return self.cached(short, split, examples)

    def make_preprocessor(self):
        from seqtasks.recipes.translation.preprocessor import TranslationPreprocessor

        data = self.config["data"]
        sides = [{"lowercase": data[f"{side}_lowercase"],
                  "split_punctuation": data[f"{side}_split_punctuation"],
                  "level": data[f"{side}_tokenizer"]} for side in ("source", "target")]
        return TranslationPreprocessor(*sides, data["max_tokens"], data["min_count"],
                                       data["max_length"], subwords=(data["subword_vocab_size"],
                                                                     data["subword_type"]),
                                       name="preprocessor")

    def data_summary(self, splits, datasets):
        left_out = self.preprocessor.left_out
        trained = {**{s: len(e) for s, e in splits.items()},
                   "train": len(splits["train"]) - left_out}
        return {"examples": trained, "left_out_too_long": left_out,
                **super().data_summary(splits, datasets)}

    def network(self):
        import keras

        from seqtasks.layers import Seq2Seq

        p = self.preprocessor
        inputs = [keras.Input((None,), dtype="int32", name=n) for n in ("source_ids", "target_in")]
        # the [model] keys are the layer's arguments
        seq2seq = Seq2Seq(p.source_vocabulary_size, p.target_vocabulary,
                          {"level": p.target_tokenizer["level"]},
                          decoding=dict(self.config["decode"]), name="seq2seq",
                          **self.config["model"])
        return keras.Model(inputs, seq2seq(inputs), name=self.name)

    def metrics(self):
        import keras

        return (), [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def inference_network(self, model):
        from seqtasks.layers.seq2seq import Seq2Seq, Translator

        return Translator(next(layer for layer in model.layers if isinstance(layer, Seq2Seq)),
                          name="translator")

    def postprocess(self, outputs, inputs):
        return dict(zip(("translation", "score"), outputs))

    def extra_endpoints(self, inference_model):
        """``log_likelihood``: source ``text`` and ``reference`` translation -> ``nll``, the
        summed negative log-likelihood of the reference (teacher forcing), and its ``tokens``."""
        import tensorflow as tf

        preprocessor, translator = inference_model.layers[-2:]  # see inference_network

        def log_likelihood(text, reference):
            nll, tokens = translator.seq2seq.negative_log_likelihood(
                preprocessor({"text": text}), *preprocessor.teacher_forcing(reference))
            return {"nll": nll, "tokens": tokens}

        specs = [tf.TensorSpec([None], tf.string, name=n) for n in ("text", "reference")]
        return {"log_likelihood": tf.function(log_likelihood, input_signature=specs,
                                              autograph=False)}

    def export_assets(self):
        return {"decode": dict(self.config["decode"])}

    def score(self, signatures, examples, metadata):
        import math

        import sacrebleu

        from seqtasks.scoring import Scored

        out = self.run_signature(signatures["serving_default"], examples)
        hypotheses = [t.decode("utf-8") for t in out["translation"]]
        references = [e.target for e in examples]
        likelihood = self.run_signature(signatures["log_likelihood"], examples, raw={
            "text": [e.input for e in examples], "reference": references})
        tokens = max(sum(map(float, likelihood["tokens"])), 1.0)
        lowercase = self.config["data"]["target_lowercase"]
        metrics = {"bleu": round(sacrebleu.corpus_bleu(hypotheses, [references],
                                                       lowercase=lowercase).score, 4),
                   "chrf": round(sacrebleu.corpus_chrf(hypotheses, [references]).score, 4),
                   "perplexity": round(math.exp(sum(map(float, likelihood["nll"])) / tokens),
                                       4),
                   "sentences": len(hypotheses)}
        return Scored(metrics, predictions=hypotheses, samples=[
            {"source": e.input, "translation": h, "reference": e.target}
            for e, h in zip(examples[:5], hypotheses)])
