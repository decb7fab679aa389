"""tagging's preprocessor: sentences -> word and character ids; tags -> tag ids and back."""

import collections
import re

import keras
import tensorflow as tf

from seqtasks.errors import DataError
from seqtasks.layers import subword
from seqtasks.layers.tokens import OOV, PAD, RESERVED_IDS, TextTokenizer, TokenIds
from seqtasks.recipes.preprocessor import Preprocessor

#: Tag prefixes of chunk encodings; a tag set made of these and "O" is scored by entities.
ENTITY_SCHEMES = {"IOB": "BI", "IOBES": "BIES", "BILOU": "BILU"}

#: What ``tf.strings.split`` splits sentences on (ASCII whitespace).
WHITESPACE = re.compile(r"[ \t\n\v\f\r]")


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


def _at(example, position):
    """``file:line`` of a token of an example (the file alone where lines are unknown)."""
    return f"{example.where}:{example.lines[position]}" if example.lines else example.where


@keras.saving.register_keras_serializable(package="seqtasks")
class TaggingPreprocessor(Preprocessor):
    """``{"text": (batch,) string}`` -> word ids ``(batch, steps)`` and character ids
    ``(batch, steps, chars)``, int32 (0 = padding, 1 = out of vocabulary); tags -> tag ids.

    A sentence is split on whitespace (a :class:`TextTokenizer` that keeps case and
    punctuation); training sentences are
    their tokens joined by single spaces, so the model reads what the export reads. The word
    vocabulary is the ``max_tokens - 2`` most frequent training words (lowercased with
    ``lowercase``) seen at least ``min_count`` times, with their training counts (for
    frequency-based word dropout); the characters are those of the first ``max_word_chars``
    of every training word; the tags are the sorted training tags.

    Args:
        lowercase: Lowercase words for the word vocabulary (characters keep their case).
        max_tokens: Largest word vocabulary, padding and out-of-vocabulary ids included.
        min_count: Words seen fewer times in training are out of vocabulary.
        max_word_chars: Characters of a word the character ids keep (the first ones).
        words, counts, chars, tags: The vocabularies (None until adapted).
        tokenizer: ``"word"`` (a word's id) or ``"subword"`` (the ids of its SentencePiece
            pieces, learned from the training sentences: a word never seen in training is
            still made of known pieces). Either way the model tags words, one tag each.
        subwords: ``(vocabulary size, SentencePiece model type)`` of the subword level.
        subword_model: The learned subword model (:meth:`adapt` learns it); ``words`` are
            then its pieces.

    Example:

    ```python
    p = TaggingPreprocessor(words=["the", "cat"], counts=[2, 1], chars=list("thecat"),
                            tags=["DET", "NOUN"])
    word_ids, char_ids = p({"text": tf.constant(["The dog"])})  # word ids [[2, 1]]
    ```
    """

    def __init__(self, lowercase=True, max_tokens=50000, min_count=1, max_word_chars=20,
                 words=None, counts=None, chars=None, tags=None, unseen_tags="error",
                 tokenizer="word", subwords=(8000, "unigram"), subword_model=None, **kwargs):
        super().__init__(**kwargs)
        self.lowercase, self.unseen_tags = lowercase, unseen_tags
        self.level, self.subwords = tokenizer, tuple(subwords)
        #: learns the subword model from the training sentences (lowercased as words are)
        self.pieces = TextTokenizer(lowercase=lowercase, split_punctuation=False,
                                    level=tokenizer, subword_model=subword_model, name="pieces")
        self.max_tokens = max_tokens
        self.min_count = min_count
        self.max_word_chars = max_word_chars
        self.words, self.counts, self.chars, self.tags = words, counts, chars, tags
        self.tokenizer = TextTokenizer(lowercase=False, split_punctuation=False, name="tokens")
        self.token_ids = None
        if self.adapted:
            self._make_token_ids()

    def _make_token_ids(self):
        self.token_ids = TokenIds(self.words, self.chars, lowercase=self.lowercase,
                                  max_word_chars=self.max_word_chars,
                                  subword_model=self.pieces.subword_model, name="token_ids")

    @property
    def adapted(self):
        return self.words is not None and self.tags is not None

    def _fold(self, token):
        return token.lower() if self.lowercase else token

    def adapt(self, examples):
        """One pass over ``examples`` (any iterable, counted a chunk at a time): memory bounded
        by the distinct words, characters and tags. At the subword level the examples are
        spooled to disk and read twice: the pieces are learned, then counted."""
        with subword.learned(examples, [(self.pieces, lambda e: [" ".join(e.input)])],
                             *self.subwords) as examples:
            words, chars, tags = self._count(examples)
        if self.level == "subword":
            words = self._piece_counts(words)
        kept = [(w, n) for w, n in words.most_common(max(self.max_tokens - RESERVED_IDS, 0))
                if n >= self.min_count and w not in (PAD, OOV)]
        self.words, self.counts = [w for w, _ in kept], [n for _, n in kept]
        self.chars = sorted(c for c in chars if c != OOV)
        self.tags = sorted(tags)
        self._make_token_ids()

    def _count(self, examples):
        from seqtasks.data.pipeline import chunks

        words, chars, tags = collections.Counter(), collections.Counter(), set()
        for chunk in chunks(examples, 1024):
            for example in chunk:
                self._check_tokens(example)
                tags.update(example.target)
            tokens = [token for example in chunk for token in example.input]
            if not tokens:
                continue
            # tokens hold no whitespace (checked): joined by spaces and split again, counted
            # in C, in the order they come
            text = " ".join(tokens)
            words.update((text.lower() if self.lowercase else text).split(" "))
            size = self.max_word_chars
            chars.update("".join(token[:size] for token in tokens))
        return words, chars, tags

    def _split(self, words):
        """The pieces of each of ``words`` (folded), as the model reads them: split by
        SentencePiece itself (the library TF Text runs), the first ``MAX_WORD_PIECES``."""
        import base64

        import sentencepiece

        model = sentencepiece.SentencePieceProcessor(
            model_proto=base64.b64decode(self.pieces.subword_model))
        return [split[: TokenIds.MAX_WORD_PIECES] for split in model.encode(words, out_type=str)]

    def _piece_counts(self, words):
        """Training counts of the subword pieces, from those of the (folded) words: each
        distinct word is split once."""
        pieces, distinct = collections.Counter(), list(words)
        for word, split in zip(distinct, self._split(distinct)):
            for piece in split:
                pieces[piece] += words[word]
        return pieces

    def _check_tokens(self, example):
        if all(example.input) and not WHITESPACE.search("".join(example.input)):
            return  # the common case, one search per sentence
        for position, token in enumerate(example.input):
            if not token or WHITESPACE.search(token):
                raise DataError(f"{_at(example, position)}: token {token!r} is empty or holds "
                                "whitespace; the model reads sentences split on whitespace")

    def check(self, examples):
        """Check held-out ``examples`` against the training vocabulary of tags. A tag never
        seen in training is a :class:`DataError` (``unseen_tags="error"``) or, with
        ``"score"``, kept as gold (the model cannot predict it, so every such token counts as
        an error, as conlleval counts it) and warned of."""
        index, unseen = self.tag_index(), {}
        for example in examples:
            self._check_tokens(example)
            for position, tag in enumerate(example.target):
                if tag in index:
                    continue
                if self.unseen_tags == "error":
                    raise DataError(
                        f"{_at(example, position)}: tag {tag!r} (token "
                        f"{example.input[position]!r}) never appears in the training data; the "
                        f"model can only predict the {len(self.tags)} training tags, so add "
                        "sentences with it to the training data or fix the tag (or set "
                        "data.unseen_tags = \"score\" to count its tokens as errors)")
                count, first = unseen.get(tag, (0, _at(example, position)))
                unseen[tag] = (count + 1, first)
        return [f"{first}: tag {tag!r} never appears in the training data; its {tokens} "
                f"token{'s' if tokens > 1 else ''} here count as errors (the model cannot "
                "predict it; data.unseen_tags = \"error\" stops instead)"
                for tag, (tokens, first) in sorted(unseen.items())]

    @property
    def word_vocabulary_size(self):
        self.check_adapted()
        return self.token_ids.word_vocabulary_size

    @property
    def char_vocabulary_size(self):
        self.check_adapted()
        return self.token_ids.char_vocabulary_size

    def id_counts(self):
        """Training count of each word id (padding and out-of-vocabulary count 0)."""
        self.check_adapted()
        return [0, 0] + list(self.counts)

    def tag_index(self):
        return {tag: i for i, tag in enumerate(self.tags)}

    @property
    def entity_scheme(self):
        return entity_scheme(self.tags)

    def oov_fraction(self, examples):
        """Share of the tokens of ``examples`` the model does not know: words out of the
        vocabulary or, at the subword level, words with a piece out of it."""
        known = set(self.words)
        tokens = [self._fold(token) for example in examples for token in example.input]
        if self.level == "subword":
            return sum(not known.issuperset(split) for split in self._split(tokens)) / max(
                len(tokens), 1)
        return sum(token not in known for token in tokens) / max(len(tokens), 1)

    def summary(self):
        return {"tags": len(self.tags), "entity_scheme": self.entity_scheme,
                "vocabulary": {"words": self.word_vocabulary_size,
                               "chars": self.char_vocabulary_size}}

    def input_signature(self):
        return {"text": tf.TensorSpec([None], tf.string, name="text")}

    def raw_targets(self, examples):
        """Tag ids; -1 for a tag never seen in training (kept by ``unseen_tags="score"``)."""
        index = self.tag_index()
        return tf.ragged.constant([[index.get(tag, -1) for tag in e.target] for e in examples],
                                  dtype=tf.int32)

    def encode(self, inputs, targets):
        features, tags = super().encode(inputs, targets)
        # loss and metrics skip padding, and validation tokens whose tag the model cannot know
        return features, tf.maximum(tags, 0), tf.cast(tags >= 0, tf.float32)

    encodes_batches = True

    def encode_batch(self, inputs, targets):
        tags = targets.to_tensor(-1)  # padding: weight 0, tag 0 as padded_batch pads
        return self(inputs), tf.maximum(tags, 0), tf.cast(tags >= 0, tf.float32)

    def trim_batch(self, features, tags, weights):
        """Every component cut to the batch's longest sentence (its word ids: tag 0 is a real
        tag, so tags cannot say where a sentence ends), the character ids also to its longest
        word."""
        from seqtasks.data.batching import used_width

        word_ids, char_ids = features
        steps = used_width(word_ids)
        if word_ids.shape.rank == 3:  # subword pieces: also cut to the most pieces of a word
            word_ids = word_ids[:, :, :used_width(word_ids, axis=2)]
        return ((word_ids[:, :steps], char_ids[:, :steps, :used_width(char_ids, axis=2)]),
                tags[:, :steps], weights[:, :steps])

    def length(self, example):
        return len(example.input)

    def call(self, inputs):
        self.check_adapted()
        return self.token_ids(self.tokenizer(inputs["text"]))

    def compute_output_spec(self, inputs):
        batch = inputs["text"].shape[0]
        words = (batch, None) if self.level == "word" else (batch, None, None)
        return (keras.KerasTensor(words, dtype="int32"),
                keras.KerasTensor((batch, None, None), dtype="int32"))

    def tag_outputs(self, probs, text):
        """The export's outputs: the tokens of ``text``, the most probable tag of each (``""``
        at padding) and the number of tokens of each sentence."""
        tokens = self.tokenizer(text)  # the same split as the model's inputs
        real = tf.not_equal(tokens, PAD)
        tags = tf.where(real, tf.gather(tf.constant(self.tags), tf.argmax(probs, axis=-1)), PAD)
        return {"tokens": tokens, "tags": tags,
                "lengths": tf.reduce_sum(tf.cast(real, tf.int32), axis=1)}

    def get_config(self):
        return {**super().get_config(), "lowercase": self.lowercase,
                "max_tokens": self.max_tokens, "min_count": self.min_count,
                "max_word_chars": self.max_word_chars, "words": self.words,
                "counts": self.counts, "chars": self.chars, "tags": self.tags,
                "unseen_tags": self.unseen_tags, "tokenizer": self.level,
                "subwords": list(self.subwords), "subword_model": self.pieces.subword_model}
