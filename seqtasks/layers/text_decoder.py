"""The text-generating half of an encoder-decoder, shared by translation and captioning.

A :class:`TextDecoder` owns everything on the output side: the target vocabulary, the token
embedding, the recurrent decoder, optional attention over a *memory* (encoder outputs of a
sentence, or the feature grid of an image) and the prediction head. Whatever encodes the input
only has to hand it the decoder's initial state and the memory:

* training (teacher forcing): ``decoder(target_in, initial_state, memory, memory_mask)`` ->
  next-token probabilities;
* generation: :meth:`TextDecoder.generate` runs a strategy of :mod:`seqtasks.decoding`
  (greedy or beam search) stepping the decoder cell, and returns strings, inside the graph.
"""

import keras
import tensorflow as tf
from keras import ops

from seqtasks.config import decode_defaults
from seqtasks.decoding import get_decoder
from seqtasks.layers.head import PredictionHead
from seqtasks.layers.stack import CELLS
from seqtasks.layers.tokens import OOV, PAD, detokenize

START, END = "<s>", "</s>"
#: Target ids: 0 padding, 1 unknown, 2 start, 3 end, then the words.
START_ID, END_ID = 2, 3


def target_lookup(vocabulary, name="target_lookup"):
    """StringLookup token -> id: 0 padding, 1 unknown, 2 start, 3 end, then ``vocabulary``."""
    return keras.layers.StringLookup(vocabulary=[START, END, *vocabulary], mask_token=PAD,
                                     oov_token=OOV, name=name)


def target_text(ids, lengths, vocabulary, level="word"):
    """``(batch, steps)`` target ids, the first ``lengths`` of each row real (None: those
    before its first end or padding id) -> ``(batch,)`` texts: the tokens of the ids
    (``[PAD, OOV, START, END, *vocabulary]``) detokenized."""
    if lengths is None:
        stops = tf.cast(tf.logical_or(tf.equal(ids, END_ID), tf.equal(ids, 0)), tf.int32)
        lengths = tf.reduce_sum(tf.cast(tf.equal(tf.cumsum(stops, axis=1), 0), tf.int32), 1)
    words = tf.gather(tf.constant([PAD, OOV, START, END, *vocabulary]), ids)
    words = tf.where(tf.sequence_mask(lengths, tf.shape(ids)[1]), words, PAD)
    return detokenize(words, level)


def _additive():
    return keras.layers.AdditiveAttention(name="attention")


def _multiplicative():
    return keras.layers.Attention(score_mode="dot", name="attention")


#: ``model.attention`` -> the Keras attention layer scoring decoder states against the
#: (projected) memory: Bahdanau's additive score or Luong's multiplicative one.
ATTENTION = {"bahdanau": _additive, "luong": _multiplicative, "none": None}

DEFAULT_DECODING = decode_defaults()  # the [decode] section's defaults, declared in config


def decoding_options(options):
    """The keyword arguments of :func:`~seqtasks.decoding.get_decoder` for ``options``."""
    if options["strategy"] != "beam":
        return {}
    return {k: options[k] for k in ("beam_width", "length_penalty") if k in options}


@keras.saving.register_keras_serializable(package="seqtasks")
class TextDecoder(keras.layers.Layer):
    """Recurrent text decoder with optional attention over a memory.

    Args:
        vocabulary: Target tokens (without padding, unknown, start and end tokens).
        tokenizer: ``TextTokenizer`` configuration of the target text (``lowercase``,
            ``split_punctuation``, ``level``); its ``level`` decides how tokens are joined.
        cell: ``"elman"``, ``"lstm"`` or ``"gru"``.
        units: Hidden units of the decoder.
        embedding_dim: Size of the token embeddings.
        attention: ``"bahdanau"``, ``"luong"`` or ``"none"``.
        hidden_units: Size of the ReLU layer of the prediction head.
        dropout: Dropout on embeddings, recurrent inputs and in the head.

    Call arguments:
        target_in: int ``(batch, steps)``, starting with the start id.
        initial_state: list of ``(batch, units)`` tensors (``[h]``, or ``[h, c]`` for LSTM).
        memory: ``(batch, positions, features)`` attended to (ignored without attention).
        memory_mask: bool ``(batch, positions)`` or None.
    Returns next-token probabilities ``(batch, steps, vocabulary size)``.
    """

    def __init__(self, vocabulary, tokenizer=None, cell="elman", units=128, embedding_dim=64,
                 attention="none", hidden_units=128, dropout=0.0, **kwargs):
        if attention not in ATTENTION:
            raise ValueError(f"`attention` must be one of {tuple(ATTENTION)}. "
                             f"Received: attention={attention!r}")
        super().__init__(**kwargs)
        self.vocabulary = list(vocabulary)
        self.tokenizer_config = dict(tokenizer or {})
        self.cell = cell
        self.units = units
        self.embedding_dim = embedding_dim
        self.attention_type = attention
        self.hidden_units = hidden_units
        self.dropout = dropout

        self.lookup = target_lookup(self.vocabulary)
        self.tokens = [PAD, OOV, START, END, *self.vocabulary]
        self.embedding = keras.layers.Embedding(len(self.tokens), embedding_dim, mask_zero=True,
                                                name="target_embedding")
        self.embedding_dropout = keras.layers.Dropout(dropout)
        self.rnn = CELLS[cell](units, dropout=dropout, return_sequences=True, name="decoder")
        make_attention = ATTENTION[attention]
        self.attention = make_attention() if make_attention else None
        self.keys = keras.layers.Dense(units, use_bias=False, name="keys") if self.attention \
            else None
        self.head = PredictionHead(len(self.tokens), hidden_units, dropout=dropout, name="head")

    @property
    def states(self):
        """How many state tensors the decoder cell carries."""
        return 2 if self.cell == "lstm" else 1

    def build(self, target_in_shape, initial_state_shape=None, memory_shape=None,
              memory_mask_shape=None):
        # Run once on a dummy batch: creates every weight of every sublayer.
        features = memory_shape[-1] if memory_shape is not None else 1
        state = [ops.zeros((1, self.units))] * self.states
        self.call(ops.ones((1, 2), dtype="int32"), state, ops.zeros((1, 2, features)))

    def features(self, outputs, memory, keys, memory_mask, target_mask=None):
        """What the head reads: the decoder outputs, joined with their attention context."""
        if self.attention is None:
            return outputs
        context = self.attention([outputs, memory, keys], mask=[target_mask, memory_mask])
        return ops.concatenate([outputs, context], -1)

    def call(self, target_in, initial_state, memory=None, memory_mask=None, training=False):
        keys = self.keys(memory) if self.keys is not None else None
        target_mask = target_in > 0
        y = self.embedding_dropout(self.embedding(target_in), training=training)
        outputs = self.rnn(y, initial_state=list(initial_state), mask=target_mask,
                           training=training)
        return self.head(self.features(outputs, memory, keys, memory_mask, target_mask),
                         training=training)

    def generate(self, initial_state, memory, memory_mask, max_lengths, options=None,
                 min_length=0):
        """Decode with a strategy of :mod:`seqtasks.decoding`; graph-friendly.

        The end token cannot be emitted before ``min_length`` tokens (1: never an empty text).

        ``options``: ``{"strategy": "beam" | "greedy", "beam_width", "length_penalty"}``.
        Returns ``(texts, scores)``: ``(batch,)`` strings and summed log-probabilities.
        """
        options = {**DEFAULT_DECODING, **(options or {})}
        if self.attention is None:
            constants = ()
        else:
            if memory_mask is None:
                memory_mask = tf.ones(tf.shape(memory)[:2], tf.bool)
            constants = (memory, self.keys(memory), memory_mask)

        # Padding and the start token are never generated; nor is the unknown token by a
        # subword vocabulary (whose pieces spell any word).
        banned = (0, START_ID, 1) if self.tokenizer_config.get("level") == "subword" else (
            0, START_ID)
        never = tf.constant([-1e9 if i in banned else 0.0 for i in range(len(self.tokens))])
        too_early = tf.one_hot(END_ID, len(self.tokens), on_value=-1e9, off_value=0.0)

        def step(tokens, state, constants, time):
            x = tf.gather(self.embedding.embeddings, tokens)  # no mask: every step is real
            h, new_state = self.rnn.cell(x, list(state), training=False)
            if constants:
                h = self.features(h[:, None], *constants)[:, 0]
            log_probs = tf.math.log(tf.maximum(self.head(h), 1e-12))
            early = tf.cast(time < min_length, tf.float32) * too_early
            return log_probs + never + early, list(new_state)

        decoder = get_decoder(options["strategy"], **decoding_options(options))
        batch = tf.shape(initial_state[0])[0]
        tokens, lengths, scores = decoder(step, list(initial_state), constants,
                                          tf.fill([batch], START_ID), END_ID, max_lengths)
        level = self.tokenizer_config.get("level", "word")
        return target_text(tokens, lengths, self.vocabulary, level), scores

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary,
                "tokenizer": self.tokenizer_config, "cell": self.cell, "units": self.units,
                "embedding_dim": self.embedding_dim, "attention": self.attention_type,
                "hidden_units": self.hidden_units, "dropout": self.dropout}
