"""language_model's preprocessor: text -> characters or words -> token ids, and back."""

import keras
import numpy as np
import tensorflow as tf

from seqtasks.layers.tokens import OOV, SPACE, vocabulary_by_count
from seqtasks.recipes.preprocessor import Preprocessor

LEVELS = ("char", "word", "subword")

#: Whitespace between words: Python's ``str.isspace`` characters (ASCII and Unicode spaces,
#: the separators U+001C-U+001F, U+0085), in RE2. ``tf.strings.split`` alone knows ASCII
#: whitespace only.
WHITESPACE = r"[\t-\r\x{1c}-\x{20}\x{85}\p{Z}]+"


#: The token a line end is at the word level with ``line_ends="token"`` (as in Mikolov et
#: al.'s word-level benchmarks).
LINE_END = "<eos>"
LINE_ENDS = ("token", "ignore")


def tokenize(text, level="char", lowercase=False, line_ends="ignore", pieces=None):
    """The one tokenizer of language models, in graph: ``(batch,)`` strings -> ragged
    ``(batch, tokens)`` strings, their characters, their whitespace-separated words or their
    subword pieces (``pieces``: :func:`seqtasks.layers.subword.tokenizer`), lowercased first if
    asked; at the word and subword levels each line end is a :data:`LINE_END` token when
    ``line_ends="token"``. Training, serving, scoring and prompt checks all use it."""
    if lowercase:
        text = tf.strings.lower(text, encoding="utf-8")
    if level == "char":
        return tf.strings.unicode_split(text, "UTF-8")
    if level == "subword":
        if line_ends == "token":  # "a<eos> b": the mark is a piece, the next word's start kept
            text = tf.strings.regex_replace(text, r"[ \t]*\r?\n", f"{LINE_END} ")
        return pieces.tokenize(text)
    if line_ends == "token":
        text = tf.strings.regex_replace(text, r"\r?\n", f" {LINE_END} ")
    return tf.strings.split(tf.strings.regex_replace(text, WHITESPACE, " "))


def split_tokens(text, level="char", lowercase=False, line_ends="ignore", subword_model=None):
    """The tokens of ``text`` as Python strings, from :func:`tokenize` (``subword_model``: the
    subword level's model, :func:`seqtasks.layers.subword.learn`)."""
    pieces = None if subword_model is None else _pieces(subword_model)
    tokens = tokenize(tf.constant([text]), level, lowercase, line_ends,
                      pieces).flat_values.numpy()
    return [t.decode("utf-8") for t in tokens]


def _pieces(model, cache={}):  # noqa: B006 (one tokenizer per model in a process)
    from seqtasks.layers import subword

    if model not in cache:
        cache[model] = subword.tokenizer(model)
    return cache[model]


def text_chunks(examples, level="char", size=4096):
    """The text of ``examples`` (lines of one text, read as one stream) in pieces of about
    ``size`` lines: what :func:`tokenize` of the whole text gives, in order, is the
    concatenation of ``tokenize`` of the pieces (at the word level a word running past a
    piece's end is carried into the next)."""
    import itertools

    iterator, carry = iter(examples), ""
    while lines := [e.input for e in itertools.islice(iterator, size)]:
        text = carry + "".join(lines)
        carry = ""
        if level != "char" and text and not text[-1].isspace():
            cut = len(text) - len(text.rsplit(None, 1)[-1])
            text, carry = text[:cut], text[cut:]
        yield text
    if carry:
        yield carry


def joined_ids(pieces):
    """int32 id arrays (any iterable) as one array."""
    return np.concatenate([np.zeros([0], np.int32), *pieces])


@keras.saving.register_keras_serializable(package="seqtasks")
class LanguageModelPreprocessor(Preprocessor):
    """``{"prompt": (batch,) string}`` -> ``(ids, lengths)``: ``(batch, steps + 1)`` int32
    token ids, each prompt's tokens, then the unknown id up to the longest prompt and once
    more, so that every row (an empty prompt too) has a token after its prompt's last; and
    ``(batch,)`` int32, each prompt's token count.

    Id 0 is the unknown token (training tokens seen fewer than ``min_count`` times, or beyond
    ``max_tokens``); the vocabulary, most frequent first, counts from 1. There is no padding
    id: a language model reads a text as one stream.

    Args:
        level: ``"char"`` (every character is a token), ``"word"`` (split on whitespace) or
            ``"subword"`` (SentencePiece pieces learned in :meth:`adapt`).
        line_ends: At the word and subword levels, ``"token"``: each line end is a :data:`LINE_END`
            token, predicted and generated like a word (generated ones start a new line);
            ``"ignore"``: line ends are spaces.
        lowercase: Lowercase the text first.
        max_tokens: Largest vocabulary, the unknown token included.
        min_count: Training tokens seen fewer times are unknown.
        vocabulary: The known tokens, id order from 1 (None until adapted).

    Example:

    ```python
    p = LanguageModelPreprocessor(vocabulary=list("the "))
    p({"prompt": tf.constant(["the", "ax"])})  # [[1, 2, 3, 0], [0, 0, 0, 0]], [3, 2]
    ```
    """

    unknown_id = 0

    def __init__(self, level="char", lowercase=False, max_tokens=20000, min_count=1,
                 vocabulary=None, token_count=None, token_marks=None, line_ends="ignore",
                 subwords=(8000, "unigram"), subword_model=None, **kwargs):
        if level not in LEVELS:
            raise ValueError(f"`level` must be one of {LEVELS}. Received: level={level!r}")
        if line_ends not in LINE_ENDS:
            raise ValueError(f"`line_ends` must be one of {LINE_ENDS}. Received: {line_ends!r}")
        super().__init__(**kwargs)
        self.level = level
        self.line_ends = line_ends
        self.subwords = tuple(subwords)
        self.subword_model = subword_model
        self.pieces = None if subword_model is None else _pieces(subword_model)
        self.lowercase = lowercase
        self.max_tokens = max_tokens
        self.min_count = min_count
        self.vocabulary = None if vocabulary is None else list(vocabulary)
        #: Set by :meth:`adapt`: the tokens of the training text and where a worker may
        #: start reading its share (see :meth:`share_ids`).
        self.token_count = token_count
        self.token_marks = None if token_marks is None else [tuple(m) for m in token_marks]
        self._make_lookup()

    def _make_lookup(self):
        self.lookup = keras.layers.StringLookup(
            vocabulary=self.vocabulary or None, num_oov_indices=1, mask_token=None,
            oov_token=OOV, output_mode="int", name="lookup")

    @property
    def adapted(self):
        return self.vocabulary is not None

    #: Lines of text per piece of the adaptation and encoding passes (:func:`text_chunks`).
    piece_lines = 4096

    def adapt(self, examples):
        """Count the tokens of ``examples`` (lines of the training text, any iterable: read
        once, a piece at a time) and keep the most frequent as the vocabulary.

        Also sets ``token_count`` (the tokens of the text) and ``token_marks``: ``(lines,
        tokens)`` pairs, the first ``lines`` lines holding exactly ``tokens`` tokens, at the
        piece boundaries where no word runs on (see :meth:`share_ids`)."""
        from seqtasks.layers import subword

        if self.level != "subword":
            return self._count(examples)
        with subword.spooled(examples) as examples:
            texts = (self._normalized(e.input) for e in examples)
            symbols = (LINE_END,) if self.line_ends == "token" else ()
            self.subword_model = subword.learn(texts, *self.subwords, symbols=symbols)
            self.pieces = _pieces(self.subword_model)
            self._count(examples)

    def _normalized(self, line):
        return line.lower() if self.lowercase else line

    def _count(self, examples):
        import collections

        counts, tokens = collections.Counter(), 0
        self.token_marks = [(0, 0)]
        pieces = text_chunks(examples, self.level, self.piece_lines)
        for number, text in enumerate(pieces, 1):
            found = self.tokenize(tf.constant([text])).flat_values
            unique, _, count = (t.numpy() for t in tf.unique_with_counts(found))
            # in order of first appearance: ties in the vocabulary stay first seen first
            counts.update(dict(zip((u.decode("utf-8") for u in unique), count.tolist())))
            tokens += len(found)
            if self.level == "char" or not text or text[-1].isspace():
                self.token_marks.append((number * self.piece_lines, tokens))
        self.token_count = tokens
        self.vocabulary = vocabulary_by_count(counts, max(self.max_tokens - 1, 1),
                                              self.min_count, reserved=(OOV,))
        self._make_lookup()  # built from the vocabulary, so get_config() carries it

    @property
    def vocabulary_size(self):
        self.check_adapted()
        return len(self.vocabulary) + 1

    def stream_ids(self, examples):
        """int32 ids of the text of ``examples`` read as one stream (their inputs joined)."""
        return joined_ids(self.id_chunks(examples))

    def share_ids(self, examples, start, stop, marks=((0, 0),)):
        """int32 ids ``[start, stop)`` of the text of ``examples``, a piece at a time: lines
        before the last of ``marks`` (:meth:`adapt`'s ``token_marks``) at or before ``start``
        are skipped unread by the tokenizer, and reading ends at ``stop``."""
        import bisect
        import itertools

        at = bisect.bisect_right([tokens for _, tokens in marks], start) - 1
        lines, position = marks[at]
        for ids in self.id_chunks(itertools.islice(iter(examples), lines, None)):
            low, high = max(start - position, 0), min(stop - position, len(ids))
            if low < high:
                yield ids[low:high]
            position += len(ids)
            if position >= stop:
                return

    def id_chunks(self, examples):
        """int32 ids of the text of ``examples`` read as one stream, a piece at a time (any
        iterable of lines, read once), through the graph tokenizer and lookup that serve."""
        self.check_adapted()
        for text in text_chunks(examples, self.level, self.piece_lines):
            yield self.token_ids(self.tokenize(tf.constant([text]))).flat_values.numpy()

    def summary(self):
        return {"vocabulary": self.vocabulary_size, "level": self.level}

    # ----- the graph -----------------------------------------------------------------------
    def tokenize(self, text):
        """:func:`tokenize` with this preprocessor's options."""
        return tokenize(text, self.level, self.lowercase, self.line_ends, self.pieces)

    def token_ids(self, tokens):
        """Token strings (any shape, ragged too) -> int32 ids."""
        if isinstance(tokens, tf.RaggedTensor):
            return tokens.with_flat_values(self.token_ids(tokens.flat_values))
        return tf.cast(self.lookup(tokens), tf.int32)

    def prompt_ids(self, prompt):
        """``(ids, lengths)``: the padded ids of :meth:`call` and each prompt's token count."""
        pieces = self.tokenize(prompt)
        ids = self.token_ids(pieces).to_tensor(self.unknown_id)
        return (tf.pad(ids, [[0, 0], [0, 1]], constant_values=self.unknown_id),
                tf.cast(pieces.row_lengths(), tf.int32))

    def detokenize(self, ids, lengths=None):
        """``(batch, steps)`` ids, of which the first ``lengths`` count (None: all) ->
        ``(batch,)`` text (words joined by single spaces, :data:`LINE_END` tokens by a line
        end)."""
        if lengths is None:
            lengths = tf.fill(tf.shape(ids)[:1], tf.shape(ids)[1])
        tokens = tf.gather(tf.constant([OOV, *self.vocabulary]), ids)
        tokens = tf.where(tf.sequence_mask(lengths, tf.shape(ids)[1]), tokens, "")
        if self.level == "char":
            return tf.strings.reduce_join(tokens, axis=1)
        if self.level == "subword":  # a word's first piece starts with a space, kept
            text = tf.strings.regex_replace(tf.strings.reduce_join(tokens, axis=1),
                                            f"{LINE_END}{SPACE}?", "\n")
            return tf.strings.regex_replace(text, SPACE, " ")
        text = tf.strings.reduce_join(tokens, axis=1, separator=" ")
        if self.line_ends == "token":
            text = tf.strings.regex_replace(text, f" ?{LINE_END} ?", "\n")
        return tf.strings.regex_replace(text, " +$", "")

    def continued(self, prompt, ids, lengths):
        """``(batch,)`` prompts followed by their continuations (see :meth:`detokenize`),
        words separated by a space (at the subword level, a continuation that starts a word
        starts with one)."""
        generated = self.detokenize(ids, lengths)
        if self.level == "word":
            separator = tf.where(tf.strings.regex_full_match(generated, "(?s)\n.*"), "", " ")
            return tf.strings.join([prompt, separator, generated])
        return prompt + generated

    def input_signature(self):
        return {"prompt": tf.TensorSpec([None], tf.string, name="prompt")}

    def call(self, inputs):
        return self.prompt_ids(inputs["prompt"])

    def compute_output_spec(self, inputs):
        batch = inputs["prompt"].shape[0]
        return (keras.KerasTensor((batch, None), dtype="int32"),
                keras.KerasTensor((batch,), dtype="int32"))

    def get_config(self):
        return {**super().get_config(), "level": self.level, "lowercase": self.lowercase,
                "line_ends": self.line_ends, "subwords": list(self.subwords),
                "subword_model": self.subword_model,
                "max_tokens": self.max_tokens, "min_count": self.min_count,
                "vocabulary": self.vocabulary, "token_count": self.token_count,
                "token_marks": None if self.token_marks is None else
                [list(m) for m in self.token_marks]}
