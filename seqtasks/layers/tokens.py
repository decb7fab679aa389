"""String preprocessing for text recipes, inside the model so exports take raw text.

One family: ``TextTokenizer`` turns sentences into a padded matrix of tokens (its options
cover every text recipe: lowercasing, punctuation split off, stripped or kept, words or
characters), a ``StringLookup`` or ``TokenIds`` turns tokens into ids, and ``detokenize``
turns tokens back into text. They run in tf.data (training) and in the exported graph
(serving), so the two see exactly the same preprocessing.
"""

import re
import string

import keras
import tensorflow as tf

PAD = ""
OOV = "[UNK]"
#: Ids before every word and character vocabulary: 0 padding (``PAD``), 1 unknown (``OOV``).
RESERVED_IDS = 2


def _at_least_one(tokens):
    """Pad the last axis of a string tensor with ``""`` to at least one position, so a
    recurrent layer downstream always sees one (masked) step."""
    missing = tf.maximum(1 - tf.shape(tokens)[-1], 0)
    padding = tf.concat([tf.zeros([tf.rank(tokens) - 1, 2], tf.int32), [[0, missing]]], 0)
    return tf.pad(tokens, padding, constant_values=PAD)


@keras.saving.register_keras_serializable(package="seqtasks")
class TokenIds(keras.layers.Layer):
    """``(batch, steps)`` tokens -> word ids ``(batch, steps)`` and character ids
    ``(batch, steps, chars)``, both int32.

    Id 0 is padding (the ``""`` token, or a character position past the end of a word) and
    id 1 is out of vocabulary; known words and characters count from 2.

    Args:
        words: The word vocabulary (without padding and OOV entries).
        chars: The character vocabulary.
        lowercase: Whether words are lowercased before lookup (characters keep their case).
        max_word_chars: Characters kept per word (the first ones).
        subword_model: A subword model (:func:`seqtasks.layers.subword.learn`): then
            ``words`` are its pieces and the word ids are ``(batch, steps, pieces)``, the
            ids of each word's first ``max_word_pieces`` pieces (0 past a word's last).
        max_word_pieces: Pieces kept per word with ``subword_model``.

    Example:

    ```python
    ids = TokenIds(["the", "cat"], list("thecat"))
    word_ids, char_ids = ids(tf.constant([["The", "dog", ""]]))  # word ids [[2, 1, 0]]
    ```
    """

    #: Pieces of a word kept by default (the first ones; longer words are rare).
    MAX_WORD_PIECES = 16

    def __init__(self, words, chars, lowercase=True, max_word_chars=20, subword_model=None,
                 max_word_pieces=MAX_WORD_PIECES, **kwargs):
        super().__init__(**kwargs)
        self.words = list(words)
        self.chars = list(chars)
        self.lowercase = lowercase
        self.max_word_chars = max_word_chars
        self.subword_model, self.max_word_pieces = subword_model, max_word_pieces
        if subword_model is not None:
            from seqtasks.layers import subword

            self.pieces = subword.tokenizer(subword_model)
        self.word_lookup = keras.layers.StringLookup(
            vocabulary=self.words, mask_token=PAD, oov_token=OOV, name="word_lookup")
        self.char_lookup = keras.layers.StringLookup(
            vocabulary=self.chars, mask_token=PAD, oov_token=OOV, name="char_lookup")

    @property
    def word_vocabulary_size(self):
        return len(self.words) + RESERVED_IDS

    @property
    def char_vocabulary_size(self):
        return len(self.chars) + RESERVED_IDS

    def build(self, input_shape):
        pass  # the lookup tables are made in __init__; nothing depends on the input shape

    def call(self, tokens):
        tokens = tf.convert_to_tensor(tokens, tf.string)
        words = tf.strings.lower(tokens, encoding="utf-8") if self.lowercase else tokens
        if self.subword_model is not None:  # "" (padding) has no pieces: all ids 0
            words = _at_least_one(self.pieces.tokenize(words).to_tensor(PAD)
                                  [:, :, : self.max_word_pieces])
        word_ids = tf.cast(self.word_lookup(words), tf.int32)
        chars = tf.strings.unicode_split(tokens, "UTF-8", errors="replace").to_tensor(PAD)
        chars = _at_least_one(chars[:, :, : self.max_word_chars])
        return word_ids, tf.cast(self.char_lookup(chars), tf.int32)

    def compute_output_spec(self, tokens):
        batch, steps = tokens.shape[0], tokens.shape[1]
        words = (batch, steps) if self.subword_model is None else (batch, steps, None)
        return (keras.KerasTensor(words, dtype="int32"),
                keras.KerasTensor((batch, steps, None), dtype="int32"))

    def get_config(self):
        return {**super().get_config(), "words": self.words, "chars": self.chars,
                "lowercase": self.lowercase, "max_word_chars": self.max_word_chars,
                "subword_model": self.subword_model, "max_word_pieces": self.max_word_pieces}


_ASCII_PUNCTUATION = f"[{re.escape(string.punctuation)}]"
SPACE = "\u2581"  # stands for a space in character-level token sequences
LEVELS = ("word", "char", "subword")


@keras.saving.register_keras_serializable(package="seqtasks")
class TextTokenizer(keras.layers.Layer):
    """``(batch,)`` sentences -> ``(batch, steps)`` tokens padded with ``""``.

    Args:
        lowercase: Lowercase the text first (Unicode-aware).
        split_punctuation: Split punctuation off the start and end of words
            (``"(Er fährt's.)"`` -> ``"( er fährt's . )"``); punctuation inside a word
            (``"fährt's"``, ``"e-mail"``) stays.
        strip_punctuation: Delete ASCII punctuation (Python's ``string.punctuation``)
            anywhere, before splitting (``"what's up?"`` -> ``"whats up"``).
        level: ``"word"`` (split on whitespace), ``"char"`` (one token per character,
            spaces become ``"\u2581"``) or ``"subword"`` (SentencePiece pieces of
            ``subword_model``, ``"\u2581"`` marking a word's first piece).
        subword_model: The subword level's model (:func:`seqtasks.layers.subword.learn`;
            None until learned: :meth:`learn_subwords`).

    :func:`detokenize` inverts it (up to lowercasing and spaces around punctuation).

    Example:

    ```python
    TextTokenizer()(tf.constant(["Ein Mann fährt."]))  # [[b"ein", b"mann", b"f\xc3\xa4hrt", b"."]]
    ```
    """

    def __init__(self, lowercase=True, split_punctuation=True, strip_punctuation=False,
                 level="word", subword_model=None, **kwargs):
        if level not in LEVELS:
            raise ValueError(f"`level` must be one of {LEVELS}. Received: level={level!r}")
        super().__init__(**kwargs)
        self.lowercase = lowercase
        self.split_punctuation = split_punctuation
        self.strip_punctuation = strip_punctuation
        self.level = level
        self.subword_model = subword_model if level == "subword" else None
        self._make_pieces()

    def _make_pieces(self):
        if self.subword_model is not None:
            from seqtasks.layers import subword

            self.pieces = subword.tokenizer(self.subword_model)

    @property
    def adapted(self):
        """Whether it can tokenize: its subword model is learned, or it needs none."""
        return self.level != "subword" or self.subword_model is not None

    def learn_subwords(self, texts, vocab_size, model_type="unigram"):
        """Learn the subword model from ``texts`` (an iterable of raw strings, read once,
        normalized as :meth:`call` normalizes them); nothing at the word and char levels."""
        import numpy as np

        from seqtasks.data.pipeline import chunks
        from seqtasks.layers import subword

        if self.level != "subword":
            return

        def normalized():
            for chunk in chunks(texts, 4096):
                for text in self.normalize(np.array(chunk, dtype=object)).numpy():
                    yield text.decode("utf-8")

        self.subword_model = subword.learn(normalized(), vocab_size, model_type)
        self._make_pieces()

    def normalize(self, text):
        """``(batch,)`` sentences lowercased and punctuation split off or stripped as
        configured: the text whose tokens :meth:`call` gives."""
        text = tf.convert_to_tensor(text, tf.string)
        if self.lowercase:
            text = tf.strings.lower(text, encoding="utf-8")
        if self.strip_punctuation:
            text = tf.strings.regex_replace(text, _ASCII_PUNCTUATION, "")
        if self.split_punctuation:
            text = tf.strings.regex_replace(text, r"(\pP+)(\s|$)", r" \1\2")
            text = tf.strings.regex_replace(text, r"(^|\s)(\pP+)", r"\1\2 ")
        return text

    def call(self, text):
        text = self.normalize(text)
        if self.level == "subword":
            if self.subword_model is None:
                raise RuntimeError("TextTokenizer: the subword model is not learned yet; call "
                                   "learn_subwords() on the training texts")
            return _at_least_one(self.pieces.tokenize(text).to_tensor(PAD))
        if self.level == "char":
            words = tf.strings.split(text)
            text = tf.strings.reduce_join(words, axis=-1, separator=SPACE)
            tokens = tf.strings.unicode_split(text, "UTF-8", errors="replace")
        else:
            tokens = tf.strings.split(text)
        return _at_least_one(tokens.to_tensor(PAD))

    def compute_output_spec(self, text):
        return keras.KerasTensor((text.shape[0], None), dtype="string")

    def get_config(self):
        return {**super().get_config(), "lowercase": self.lowercase,
                "split_punctuation": self.split_punctuation,
                "strip_punctuation": self.strip_punctuation, "level": self.level,
                "subword_model": self.subword_model}


def detokenize(tokens, level="word"):
    """``(batch, steps)`` tokens (``""`` = padding) -> ``(batch,)`` sentences.

    Word level joins with spaces and removes the space before closing punctuation and after
    opening brackets; character level joins and turns ``"\u2581"`` back into spaces; subword
    level does both (the spaces that split punctuation off words, as word level).
    """
    if level == "char":
        text = tf.strings.reduce_join(tokens, axis=-1)
        return tf.strings.strip(tf.strings.regex_replace(text, SPACE, " "))
    if level == "subword":
        text = tf.strings.regex_replace(tf.strings.reduce_join(tokens, axis=-1), SPACE, " ")
    else:
        text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
    text = tf.strings.regex_replace(text, r" +", " ")
    text = tf.strings.regex_replace(text, r" ([.,!?;:%)\]}»])", r"\1")
    text = tf.strings.regex_replace(text, r"([(\[{«]) ", r"\1")
    return tf.strings.strip(text)


def tokenize_texts(tokenizer, texts, batch_size=4096):
    """Token lists (``str``) of a list of texts, run through an in-graph tokenizer in batches."""
    import numpy as np

    out = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(np.array(texts[start:start + batch_size], dtype=object)).numpy()
        out += [[t.decode("utf-8") for t in row if t] for row in batch]
    return out


def token_array(tokenizer, texts):
    """``(texts, steps)`` NumPy array of the byte tokens of ``texts`` through an in-graph
    tokenizer, padded with ``b""``."""
    import numpy as np

    return tokenizer(np.array(texts, dtype=object)).numpy()


def count_tokens(counts, tokens):
    """Add the tokens of a :func:`token_array` (or its rows) to ``counts`` (a Counter of byte
    tokens, first seen first; padding is counted under ``b""``: see :func:`decoded_counts`)."""
    counts.update(tokens.ravel().tolist())


def decoded_counts(counts):
    """A Counter of byte tokens (from :func:`count_tokens`) as ``str`` tokens, padding left
    out, in the order first seen."""
    import collections

    return collections.Counter({t.decode("utf-8"): n for t, n in counts.items() if t})


def vocabulary_by_count(token_lists, size, min_count, reserved=("", OOV, "<s>", "</s>")):
    """The ``size`` most frequent tokens seen at least ``min_count`` times, ``reserved`` left
    out, most frequent first (ties: first seen first). ``token_lists``: lists of tokens, or
    a ``collections.Counter`` of them counted already (a streaming pass)."""
    import collections

    reserved = set(reserved)
    if isinstance(token_lists, collections.Counter):
        counts = collections.Counter({t: n for t, n in token_lists.items() if t not in reserved})
    else:
        counts = collections.Counter(t for tokens in token_lists for t in tokens
                                     if t not in reserved)
    return [t for t, n in counts.most_common(max(size, 0)) if n >= min_count]
