"""translation's preprocessor: source text -> source ids; target text -> teacher-forcing ids."""

import collections

import keras
import tensorflow as tf

from seqtasks.data.pipeline import chunks
from seqtasks.errors import DataError, TrainingSetError
from seqtasks.layers import subword
from seqtasks.layers.text_decoder import (
    END,
    END_ID,
    START,
    START_ID,
    target_lookup,
    target_text,
)
from seqtasks.layers.tokens import (
    OOV,
    PAD,
    TextTokenizer,
    count_tokens,
    decoded_counts,
    token_array,
    tokenize_texts,
    vocabulary_by_count,
)
from seqtasks.recipes.preprocessor import Preprocessor

#: Ids before the vocabulary's: the source side has padding (0) and unknown (1); the target
#: side adds the start (2) and end (3) tokens the decoder reads and writes.
SOURCE_SPECIALS = (PAD, OOV)
TARGET_SPECIALS = (PAD, OOV, START, END)


@keras.saving.register_keras_serializable(package="seqtasks")
class TranslationPreprocessor(Preprocessor):
    """``{"text": (batch,) string}`` -> ``(batch, steps)`` int32 source ids (0 = padding,
    1 = unknown); in training, ``(source ids, target in)``, ``target out`` and its weights,
    where ``target in`` is ``<s>`` + the target ids and ``target out`` the target ids + ``</s>``.

    Each side is tokenized by its own :class:`~seqtasks.layers.TextTokenizer`. A vocabulary is
    the most frequent training tokens seen at least ``min_count`` times, at most
    ``max_tokens`` ids with the special ones. Training pairs with a side longer than
    ``max_length`` tokens are left out of the vocabularies (and of training).

    Args:
        source_tokenizer, target_tokenizer: ``TextTokenizer`` configurations (``lowercase``,
            ``split_punctuation``, ``level``).
        max_tokens: Largest vocabulary of each side, special tokens included.
        min_count: Tokens seen fewer times in training are unknown.
        max_length: Longest training side kept, in tokens.
        source_vocabulary, target_vocabulary: Tokens without special ones (None until adapted).
        subwords: ``(vocabulary size, SentencePiece model type)`` of a side whose tokenizer's
            ``level`` is ``"subword"``; its model is learned in :meth:`adapt` and kept in the
            side's tokenizer configuration (``subword_model``).

    Example:

    ```python
    p = TranslationPreprocessor(source_vocabulary=["a", "dog"], target_vocabulary=["xo"])
    p({"text": tf.constant(["A cat"])})  # [[2, 1]]
    p.teacher_forcing(tf.constant(["xo"]))  # ([[2, 4]], [[4, 3]])
    ```
    """

    def __init__(self, source_tokenizer=None, target_tokenizer=None, max_tokens=20000,
                 min_count=1, max_length=60, source_vocabulary=None, target_vocabulary=None,
                 subwords=(8000, "unigram"), **kwargs):
        super().__init__(**kwargs)
        self.source_tokenizer = dict(source_tokenizer or {})
        self.target_tokenizer = dict(target_tokenizer or {})
        self.max_tokens = max_tokens
        self.min_count = min_count
        self.max_length = max_length
        self.subwords = tuple(subwords)
        self.source_vocabulary = None if source_vocabulary is None else list(source_vocabulary)
        self.target_vocabulary = None if target_vocabulary is None else list(target_vocabulary)
        self._make_tokenizers()
        self._make_lookups()

    def _make_tokenizers(self):
        self.source_tokenize = TextTokenizer(**self.source_tokenizer, name="source_tokenizer")
        self.target_tokenize = TextTokenizer(**self.target_tokenizer, name="target_tokenizer")

    def _make_lookups(self):
        if self.adapted:
            self.source_lookup = keras.layers.StringLookup(
                vocabulary=self.source_vocabulary, mask_token=PAD, oov_token=OOV,
                name="source_lookup")
            self.target_lookup = target_lookup(self.target_vocabulary)

    @property
    def adapted(self):
        return self.source_vocabulary is not None and self.target_vocabulary is not None

    @property
    def source_vocabulary_size(self):
        self.check_adapted()
        return len(SOURCE_SPECIALS) + len(self.source_vocabulary)

    @property
    def target_vocabulary_size(self):
        self.check_adapted()
        return len(TARGET_SPECIALS) + len(self.target_vocabulary)

    def tokens(self, examples):
        """``(source token lists, target token lists)`` of ``examples`` (Python strings)."""
        return (tokenize_texts(self.source_tokenize, [e.input for e in examples]),
                tokenize_texts(self.target_tokenize, [e.target for e in examples]))

    #: :meth:`adapt` counts the training lengths itself (tokenizing is done there anyway).
    measures_lengths = True

    def adapt(self, examples):
        """One pass over ``examples`` (any iterable, tokenized in chunks): vocabularies of the
        pairs whose sides both have at most ``max_length`` tokens; the others are counted in
        ``left_out`` (training leaves them out). Memory is bounded by the distinct tokens."""
        sides = [(self.source_tokenize, lambda e: [e.input]),
                 (self.target_tokenize, lambda e: [e.target])]
        with subword.learned(examples, sides, *self.subwords) as examples:
            self._count(examples)
        for config, tokenize in zip((self.source_tokenizer, self.target_tokenizer),
                                    (self.source_tokenize, self.target_tokenize)):
            if tokenize.subword_model is not None:  # kept in the configuration
                config["subword_model"] = tokenize.subword_model

    def _count(self, examples):
        sources, targets, lengths = (collections.Counter() for _ in range(3))
        self.left_out = 0
        for chunk in chunks(examples, 4096):
            source = token_array(self.source_tokenize, [e.input for e in chunk])
            target = token_array(self.target_tokenize, [e.target for e in chunk])
            source_lengths = (source != b"").sum(axis=1)
            kept = (source_lengths <= self.max_length) & (
                (target != b"").sum(axis=1) <= self.max_length)
            self.left_out += int(len(chunk) - kept.sum())
            count_tokens(sources, source[kept])
            count_tokens(targets, target[kept])
            lengths.update(source_lengths[kept].tolist())
        # (length, count) pairs: a dict attribute of a Keras layer would be wrapped
        self.length_counts = tuple(sorted(lengths.items()))
        if self.left_out and not lengths:
            raise TrainingSetError(f"every training pair is longer than data.max_length="
                                   f"{self.max_length} tokens")
        if not lengths:  # no pairs: the recipe says so
            return
        self.source_vocabulary = vocabulary_by_count(
            decoded_counts(sources), self.max_tokens - len(SOURCE_SPECIALS), self.min_count)
        self.target_vocabulary = vocabulary_by_count(
            decoded_counts(targets), self.max_tokens - len(TARGET_SPECIALS), self.min_count)
        self._make_lookups()

    def check(self, examples):
        for example, tokens in zip(examples, self.tokens(examples)[0]):
            if not tokens:
                raise DataError(f"{example.where}: the source sentence {example.input!r} "
                                "has no tokens")
        return []

    def summary(self):
        return {"vocabulary": {"source": self.source_vocabulary_size,
                               "target": self.target_vocabulary_size}}

    def input_signature(self):
        return {"text": tf.TensorSpec([None], tf.string, name="text")}

    def raw_targets(self, examples):
        return [e.target for e in examples]

    def length(self, example):
        return len(self.tokens([example])[0][0])

    def call(self, inputs):
        return tf.cast(self.source_lookup(self.source_tokenize(inputs["text"])), tf.int32)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((inputs["text"].shape[0], None), dtype="int32")

    def teacher_forcing(self, targets):
        """``(batch,)`` target strings -> int32 ``(target_in, target_out)``, both
        ``(batch, tokens + 1)``: ``<s> w1 .. wn`` and ``w1 .. wn </s>``, padded with 0."""
        ids = tf.cast(self.target_lookup(self.target_tokenize(targets)), tf.int32)
        batch, lengths = tf.shape(ids)[0], tf.reduce_sum(tf.cast(ids > 0, tf.int32), axis=1)
        target_in = tf.concat([tf.fill([batch, 1], START_ID), ids], axis=1)
        padded = tf.pad(ids, [[0, 0], [0, 1]])
        ends = tf.equal(tf.range(tf.shape(padded)[1])[None], lengths[:, None])
        return target_in, tf.where(ends, END_ID, padded)

    def detokenize(self, ids, lengths=None):
        """``(batch, steps)`` target ids (``target_out`` or generated), the first ``lengths``
        of each row real (None: those before the first end id) -> ``(batch,)`` texts, joined
        as the target side's level joins."""
        return target_text(ids, lengths, self.target_vocabulary,
                           self.target_tokenizer.get("level", "word"))

    def encode(self, inputs, targets):
        source_ids = self({"text": inputs["text"][None]})[0]
        target_in, target_out = (t[0] for t in self.teacher_forcing(targets[None]))
        return (source_ids, target_in), target_out, tf.cast(target_out > 0, tf.float32)

    encodes_batches = True

    def encode_batch(self, inputs, targets):
        target_in, target_out = self.teacher_forcing(targets)  # target_out ends with </s>
        return (self(inputs), target_in), target_out, tf.cast(target_out > 0, tf.float32)

    def get_config(self):
        return {**super().get_config(), "source_tokenizer": self.source_tokenizer,
                "target_tokenizer": self.target_tokenizer, "max_tokens": self.max_tokens,
                "min_count": self.min_count, "max_length": self.max_length,
                "subwords": list(self.subwords),
                "source_vocabulary": self.source_vocabulary,
                "target_vocabulary": self.target_vocabulary}
