"""captioning's preprocessor: encoded image bytes -> pixels; reference captions -> target ids."""

import keras
import tensorflow as tf

from seqtasks.layers import subword
from seqtasks.layers.images import decode_image, decode_images
from seqtasks.layers.text_decoder import END, START, target_lookup, target_text
from seqtasks.layers.tokens import TextTokenizer, tokenize_texts, vocabulary_by_count
from seqtasks.recipes.preprocessor import Preprocessor


@keras.saving.register_keras_serializable(package="seqtasks")
class CaptioningPreprocessor(Preprocessor):
    """``{"image": (batch,) string}`` encoded JPEG or PNG bytes -> ``uint8 [batch, size, size,
    3]`` pixels (:func:`~seqtasks.layers.images.decode_image`); an image's reference captions
    -> int ``[captions, steps]`` target ids framed by the start and end tokens.

    Captions are tokenized by :class:`~seqtasks.layers.TextTokenizer`; the vocabulary is the
    training words seen at least ``min_count`` times, the most frequent first, so that it
    holds at most ``max_tokens`` ids with the decoder's special tokens (padding, unknown,
    start, end: :func:`~seqtasks.layers.text_decoder.target_lookup`). Training captions longer
    than ``max_length`` tokens are left out (and counted).

    Args:
        image_size: Side of the square the images are resized to.
        lowercase, split_punctuation: Of the caption tokenizer.
        max_tokens: Largest vocabulary, special tokens included.
        min_count: Fewest training occurrences of a vocabulary word.
        max_length: Most tokens of a training caption.
        vocabulary: The caption words without special tokens (None until adapted).
        tokenizer: The caption tokenizer's ``level``: ``"word"``, ``"char"`` or ``"subword"``.
        subwords: ``(vocabulary size, SentencePiece model type)`` of the subword level.
        subword_model: The learned subword model (:meth:`adapt` learns it).
    """

    def __init__(self, image_size=64, lowercase=True, split_punctuation=True, max_tokens=10000,
                 min_count=5, max_length=40, vocabulary=None, tokenizer="word",
                 subwords=(8000, "unigram"), subword_model=None, **kwargs):
        super().__init__(**kwargs)
        self.image_size = image_size
        self.lowercase = lowercase
        self.split_punctuation = split_punctuation
        self.max_tokens = max_tokens
        self.min_count = min_count
        self.max_length = max_length
        self.vocabulary = None if vocabulary is None else list(vocabulary)
        self.level, self.subwords = tokenizer, tuple(subwords)
        self.tokenizer = TextTokenizer(**self.tokenizer_config, subword_model=subword_model,
                                       name="caption_tokenizer")
        self.lookup = None if vocabulary is None else target_lookup(self.vocabulary)
        #: Training captions, and those left out for their length (known after :meth:`adapt`).
        self.caption_count = self.left_out = 0

    @property
    def tokenizer_config(self):
        return {"lowercase": self.lowercase, "split_punctuation": self.split_punctuation,
                "level": self.level}

    @property
    def adapted(self):
        return self.vocabulary is not None

    @property
    def vocabulary_size(self):
        self.check_adapted()
        return self.lookup.vocabulary_size()

    def tokens(self, examples):
        """Token lists per caption per image of ``examples``."""
        flat = tokenize_texts(self.tokenizer, [c for e in examples for c in e.target])
        out, at = [], 0
        for example in examples:
            out.append(flat[at:at + len(example.target)])
            at += len(example.target)
        return out

    def adapt(self, examples):
        """One pass over the training examples (any iterable, tokenized a chunk at a time):
        the vocabulary from the word counts, the captions counted."""
        import collections

        from seqtasks.data.pipeline import chunks

        counts = collections.Counter()
        self.left_out = self.caption_count = 0
        with subword.learned(examples, [(self.tokenizer, lambda e: e.target)],
                             *self.subwords) as examples:
            for chunk in chunks(examples, 1024):
                for caption in (t for caps in self.tokens(chunk) for t in caps):
                    self.caption_count += 1
                    if len(caption) > self.max_length:
                        self.left_out += 1
                    else:
                        counts.update(caption)
        special = target_lookup([]).vocabulary_size()
        self.vocabulary = vocabulary_by_count(counts, self.max_tokens - special,
                                              self.min_count)
        self.lookup = target_lookup(self.vocabulary)

    def summary(self):
        return {"left_out_too_long": self.left_out, "vocabulary": self.vocabulary_size,
                "image_size": self.image_size}

    # ----- the serving boundary ------------------------------------------------------------
    def input_signature(self):
        return {"image": tf.TensorSpec([None], tf.string, name="image")}

    def call(self, inputs):
        return decode_images(inputs["image"], self.image_size)

    def compute_output_spec(self, inputs):
        size = self.image_size
        return keras.KerasTensor((inputs["image"].shape[0], size, size, 3), dtype="uint8")

    # ----- training ------------------------------------------------------------------------
    def raw_targets(self, examples):
        """Ragged int ``[images, captions, steps]`` ids of every caption."""
        return self._targets(examples)

    def training_targets(self, examples):
        """:meth:`raw_targets` without the captions longer than ``max_length`` tokens."""
        return self._targets(examples, self.max_length)

    @property
    def example_bytes(self):
        """Bytes of one decoded image: what the training cache holds per example."""
        return self.image_size * self.image_size * 3

    def _targets(self, examples, max_length=None):
        self.check_adapted()
        tokens = [[t for t in caps if max_length is None or len(t) <= max_length]
                  for caps in self.tokens(examples)]
        flat = [[START, *cap, END] for caps in tokens for cap in caps]
        per_caption = [len(cap) for cap in flat]
        words = tf.constant([t for cap in flat for t in cap] or [""], tf.string)
        ids = tf.cast(self.lookup(words), tf.int32)[:sum(per_caption)]
        captions = tf.RaggedTensor.from_row_lengths(ids, per_caption)
        return tf.RaggedTensor.from_row_lengths(captions, [len(c) for c in tokens])

    def detokenize(self, ids, lengths=None):
        """``(batch, steps)`` caption ids (generated, or :meth:`raw_targets` rows without
        the start id), the first ``lengths`` of each row real (None: those before the first
        end id) -> ``(batch,)`` captions."""
        return target_text(ids, lengths, self.vocabulary, self.level)

    def encode(self, inputs, targets):
        """One image's bytes and its ``[captions, steps]`` ids -> ``((pixels, captions_in),
        next tokens, weights)``: teacher forcing over every caption of the image at once."""
        ids = targets.to_tensor()
        outputs = ids[:, 1:]
        return ((decode_image(inputs["image"], self.image_size), ids[:, :-1]), outputs,
                tf.cast(outputs > 0, tf.float32))

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size,
                "lowercase": self.lowercase, "split_punctuation": self.split_punctuation,
                "max_tokens": self.max_tokens, "min_count": self.min_count,
                "max_length": self.max_length, "vocabulary": self.vocabulary,
                "tokenizer": self.level, "subwords": list(self.subwords),
                "subword_model": self.tokenizer.subword_model}
