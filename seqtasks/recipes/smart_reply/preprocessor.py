"""smart_reply's preprocessor: message text -> token ids; reply labels -> class ids."""

import collections

import keras
import numpy as np
import tensorflow as tf

from seqtasks.data.pipeline import chunks
from seqtasks.errors import DataError
from seqtasks.layers import subword
from seqtasks.layers.preprocessing import FitLength
from seqtasks.layers.tokens import (
    OOV,
    PAD,
    RESERVED_IDS,
    TextTokenizer,
    count_tokens,
    decoded_counts,
    token_array,
    vocabulary_by_count,
)
from seqtasks.recipes.preprocessor import Preprocessor


@keras.saving.register_keras_serializable(package="seqtasks")
class SmartReplyPreprocessor(Preprocessor):
    """``{"text": (batch,) string}`` -> ``(batch, steps)`` int32 token ids (0 = padding,
    1 = out of vocabulary), cut to ``max_length`` tokens; labels -> class ids.

    Text is lowercased, stripped of ASCII punctuation and split into words, characters or
    subword pieces (a :class:`~seqtasks.layers.TextTokenizer`). The vocabulary is the
    ``max_tokens - 2`` most frequent training tokens; the labels are the sorted training
    labels.

    Args:
        max_tokens: Largest vocabulary, padding and out-of-vocabulary ids included.
        max_length: Tokens kept per message (the first ones).
        vocabulary: The word vocabulary without special tokens (None until adapted).
        labels: The reply labels, class id order (None until adapted).
        replies: The reply text shown for each label (default: the label).
        tokenizer: The tokenizer's ``level``: ``"word"``, ``"char"`` or ``"subword"``.
        subwords: ``(vocabulary size, SentencePiece model type)`` of the subword level.
        subword_model: The learned subword model (:meth:`adapt` learns it).

    Example:

    ```python
    p = SmartReplyPreprocessor(vocabulary=["where", "is"], labels=["a", "b"])
    p({"text": tf.constant(["Where is it?"])})  # [[2, 3, 1]]
    ```
    """

    def __init__(self, max_tokens=20000, max_length=64, vocabulary=None, labels=None,
                 replies=None, out_of_scope_label=None, reply_texts=None,
                 unseen_labels="error", tokenizer="word", subwords=(8000, "unigram"),
                 subword_model=None, **kwargs):
        super().__init__(**kwargs)
        #: A held-out label never seen in training: ``"error"`` or ``"score"`` (see check).
        self.unseen_labels = unseen_labels
        #: ``{label: reply}`` that :meth:`adapt` takes the ``replies`` of the labels it finds
        #: from (a label without one is its own reply); not saved, ``replies`` is.
        self.reply_texts = dict(reply_texts or {})
        #: Held-out messages with this label are scored though no reply fits them.
        self.out_of_scope_label = out_of_scope_label
        self.max_tokens = max_tokens
        self.max_length = max_length
        self.vocabulary = None if vocabulary is None else list(vocabulary)
        self.labels = None if labels is None else list(labels)
        self.replies = None if replies is None else list(replies)
        self.fit_length = FitLength(max_length, name="fit_length")
        self.level, self.subwords = tokenizer, tuple(subwords)
        self.tokenizer = TextTokenizer(lowercase=True, split_punctuation=False,
                                       strip_punctuation=True, level=tokenizer,
                                       subword_model=subword_model, name="tokenizer")
        self._make_lookup()

    def _make_lookup(self):
        self.lookup = keras.layers.StringLookup(
            vocabulary=self.vocabulary, mask_token=PAD, oov_token=OOV, name="lookup")

    @property
    def adapted(self):
        return self.vocabulary is not None and self.labels is not None

    def adapt(self, examples):
        """One pass over ``examples`` (any iterable, read in chunks): memory bounded by the
        distinct words and labels."""
        words, labels, lengths = collections.Counter(), set(), collections.Counter()
        with subword.learned(examples, [(self.tokenizer, lambda e: [e.input])],
                             *self.subwords) as examples:
            for chunk in chunks(examples, 4096):
                tokens = token_array(self.tokenizer, [e.input for e in chunk])
                count_tokens(words, tokens)
                labels.update(e.target for e in chunk)
                if self.measures_lengths:
                    lengths.update(np.clip((tokens != b"").sum(axis=1), 1,
                                           self.max_length).tolist())
                del tokens  # the chunk's token array is the pass's largest allocation
        # (length, count) pairs, read when the tokens are not words (measures_lengths)
        self.length_counts = tuple(sorted(lengths.items()))
        self.vocabulary = vocabulary_by_count(decoded_counts(words), self.max_tokens - RESERVED_IDS,
                                              min_count=1)
        self._make_lookup()  # built from the vocabulary, so get_config() carries it
        self.labels = sorted(labels)
        self.replies = [self.reply_texts.get(label, label) for label in self.labels]

    @property
    def vocabulary_size(self):
        self.check_adapted()
        return len(self.vocabulary) + RESERVED_IDS

    def label_index(self):
        return {label: i for i, label in enumerate(self.labels)}

    def check(self, examples):
        """Held-out labels against the training labels. :attr:`out_of_scope_label` is always
        allowed (messages no reply fits: scored, never trained on unless the training data has
        them). Another label never seen in training is a :class:`DataError`
        (``unseen_labels="error"``) or, with ``"score"``, kept: the model cannot predict it,
        so its messages count as errors, and each such label is warned of."""
        known, unseen = self.label_index(), {}
        for example in examples:
            label = example.target
            if label in known or label == self.out_of_scope_label:
                continue
            if self.unseen_labels == "error":
                raise DataError(
                    f"{example.where}: label {label!r} never appears in the training data "
                    f"(the model can only predict the {len(known)} training labels; set "
                    "data.unseen_labels = \"score\" to count its messages as errors)")
            count, first = unseen.get(label, (0, example.where))
            unseen[label] = (count + 1, first)
        return [f"{first}: label {label!r} never appears in the training data; its {count} "
                f"message{'s' if count > 1 else ''} here count as errors (the model cannot "
                "predict it; data.unseen_labels = \"error\" stops instead)"
                for label, (count, first) in sorted(unseen.items())]

    def top_replies(self, probs, k, min_score=0.0, out_of_scope_label=None):
        """The export's outputs: the ``k`` most probable replies, their scores and labels, and
        ``abstained``: the best score is under ``min_score`` or the best label is
        ``out_of_scope_label``. An abstained message's replies are empty strings (its scores
        and labels stay, for inspection)."""
        scores, best = tf.math.top_k(probs, k=min(k, len(self.labels)))
        abstained = scores[:, 0] < min_score
        if out_of_scope_label in self.labels:
            abstained = abstained | tf.equal(best[:, 0], self.labels.index(out_of_scope_label))
        replies = tf.gather(tf.constant(self.replies), best)
        return {"replies": tf.where(abstained[:, None], tf.constant(""), replies),
                "scores": scores, "labels": tf.gather(tf.constant(self.labels), best),
                "abstained": abstained}

    def summary(self):
        return {"labels": len(self.labels), "vocabulary": self.vocabulary_size}

    def input_signature(self):
        return {"text": tf.TensorSpec([None], tf.string, name="text")}

    def raw_targets(self, examples):
        index = self.label_index()
        return tf.constant([index[e.target] for e in examples], tf.int32)

    encodes_batches = True

    def encode_batch(self, inputs, targets):
        return self(inputs), targets

    @property
    def measures_lengths(self):
        """Whether :meth:`adapt` counts the training lengths (characters and subword pieces:
        their counts need the tokenizer; words are counted by :meth:`length`)."""
        return self.level != "word"

    def length(self, example):
        return min(max(len(example.input.split()), 1), self.max_length)

    def call(self, inputs):
        ids = self.lookup(self.tokenizer(inputs["text"]))
        return tf.cast(self.fit_length(ids), tf.int32)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((inputs["text"].shape[0], None), dtype="int32")

    def get_config(self):
        return {**super().get_config(), "max_tokens": self.max_tokens,
                "max_length": self.max_length, "vocabulary": self.vocabulary,
                "labels": self.labels, "replies": self.replies,
                "out_of_scope_label": self.out_of_scope_label,
                "unseen_labels": self.unseen_labels, "tokenizer": self.level,
                "subwords": list(self.subwords),
                "subword_model": self.tokenizer.subword_model}
