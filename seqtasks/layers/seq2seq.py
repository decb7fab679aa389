"""An encoder-decoder with attention whose translation loop lives inside the graph.

Training (teacher forcing): source ids and the shifted target ids -> next-token probabilities.
Translation: source ids -> encoder -> the :class:`~seqtasks.layers.TextDecoder` generating with
a strategy from :mod:`seqtasks.decoding` -> strings. Both paths share every weight, and
translation uses only core TensorFlow ops, so a SavedModel of it runs on stock TF Serving.
Tokenizing and the vocabulary lookups are the recipe's preprocessor's
(:class:`~seqtasks.recipes.translation.preprocessor.TranslationPreprocessor`).
"""

import keras
import tensorflow as tf
from keras import ops

from seqtasks.layers.stack import recurrent_layer
from seqtasks.layers.text_decoder import ATTENTION, DEFAULT_DECODING, TextDecoder


@keras.saving.register_keras_serializable(package="seqtasks")
class Seq2Seq(keras.layers.Layer):
    """Recurrent encoder-decoder with optional attention over the encoder outputs.

    Args:
        source_vocabulary_size: Source ids, padding (0) and unknown (1) included.
        target_vocabulary: List of target tokens (without padding, unknown, start and end
            tokens): the decoder's output vocabulary.
        target_tokenizer: ``TextTokenizer`` configuration of the target side (``lowercase``,
            ``split_punctuation``, ``level``); its ``level`` decides how tokens are joined.
        cell: ``"elman"``, ``"lstm"`` or ``"gru"``.
        units: Hidden units of each recurrent layer (per direction in the encoder).
        embedding_dim: Size of the token embeddings (both sides).
        layers: Number of encoder layers.
        bidirectional: Whether the encoder layers are bidirectional.
        attention: ``"bahdanau"``, ``"luong"`` or ``"none"``.
        hidden_units: Size of the ReLU layer of the prediction head.
        dropout: Dropout on embeddings, recurrent inputs and in the head.
        decoding: ``{"strategy": "beam" | "greedy", "beam_width", "length_penalty",
            "max_length_ratio", "max_length_offset", "max_length"}``; the output length is
            at most ``min(ratio * source tokens + offset, max_length)``.

    Call arguments:
        inputs: ``(source_ids, target_in)``, int ``(batch, steps)`` tensors; ``target_in``
            starts with the start id. Returns next-token probabilities
            ``(batch, target steps, target vocabulary)``.

    :meth:`translate` maps int source ids to ``(translations, scores)``; :class:`Translator`
    is that half as a layer of its own (an inference model's last layer).

    Example:

    ```python
    layer = Seq2Seq(5, ["xo", "ya"], units=8, embedding_dim=4)
    probs = layer((np.array([[2, 3, 4]]), np.array([[2, 4]])))  # (1, 2, 6)
    translations, scores = layer.translate(np.array([[2, 3, 4]]))  # (1,) strings, floats
    ```
    """

    def __init__(self, source_vocabulary_size, target_vocabulary, target_tokenizer=None,
                 cell="elman", units=128, embedding_dim=64, layers=1, bidirectional=True,
                 attention="bahdanau", hidden_units=128, dropout=0.0, decoding=None, **kwargs):
        if attention not in ATTENTION:
            raise ValueError(f"`attention` must be one of {tuple(ATTENTION)}. "
                             f"Received: attention={attention!r}")
        super().__init__(**kwargs)
        self.source_vocabulary_size = source_vocabulary_size
        self.target_vocabulary = list(target_vocabulary)
        self.target_tokenizer_config = dict(target_tokenizer or {})
        self.cell = cell
        self.units = units
        self.embedding_dim = embedding_dim
        self.num_layers = layers
        self.bidirectional = bidirectional
        self.attention_type = attention
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.decoding = {**DEFAULT_DECODING, "max_length_ratio": 2.0, "max_length_offset": 10,
                         **(decoding or {})}

        self.source_embedding = keras.layers.Embedding(
            source_vocabulary_size, embedding_dim, mask_zero=True, name="source_embedding")
        self.embedding_dropout = keras.layers.Dropout(dropout)
        self.encoder = [
            recurrent_layer(cell, units, dropout=dropout, return_sequences=True,
                            return_state=i == layers - 1, bidirectional=bidirectional,
                            name=f"encoder_{i}")
            for i in range(layers)
        ]
        self.states_per_direction = 2 if cell == "lstm" else 1
        # A bidirectional encoder's final states (2 x units) are projected to the decoder's
        # size; a one-directional encoder's are used as they are.
        self.bridge = [keras.layers.Dense(units, activation="tanh", name=f"bridge_{i}")
                       for i in range(self.states_per_direction)] if bidirectional else []
        self.text_decoder = TextDecoder(
            self.target_vocabulary, self.target_tokenizer_config, cell=cell, units=units,
            embedding_dim=embedding_dim, attention=attention, hidden_units=hidden_units,
            dropout=dropout, name="text_decoder")

    @property
    def directions(self):
        return 2 if self.bidirectional else 1

    def build(self, input_shape):
        # Run once on a dummy batch: creates every weight of every sublayer.
        dummy = ops.ones((1, 2), dtype="int32")
        self.call((dummy, dummy), training=False)

    # ----- the two halves -----------------------------------------------------------------
    def encode(self, source_ids, training=False):
        """``(outputs, decoder initial states, source mask)`` for int ``source_ids``."""
        mask = source_ids > 0
        x = self.embedding_dropout(self.source_embedding(source_ids), training=training)
        for layer in self.encoder[:-1]:
            x = layer(x, mask=mask, training=training)
        outputs, *states = self.encoder[-1](x, mask=mask, training=training)
        # Per direction, the states are [h] (elman, gru) or [h, c] (lstm).
        n = self.states_per_direction
        if not self.bridge:
            return outputs, list(states[:n]), mask
        initial = []
        for k in range(n):
            final = ops.concatenate([states[d * n + k] for d in range(self.directions)], -1)
            initial.append(self.bridge[k](final))
        return outputs, initial, mask

    def call(self, inputs, training=False):
        source_ids, target_in = inputs
        encoder_outputs, initial, source_mask = self.encode(source_ids, training)
        return self.text_decoder(target_in, initial, encoder_outputs, source_mask,
                                 training=training)

    def negative_log_likelihood(self, source_ids, target_in, target_out):
        """Teacher forcing: per sentence, the summed negative log-probability of the ids of
        ``target_out`` and how many there are (0 is padding and not counted)."""
        probs = self.call((source_ids, target_in))
        picked = tf.gather(probs, target_out, batch_dims=2)
        weights = tf.cast(target_out > 0, tf.float32)
        nll = -tf.reduce_sum(tf.math.log(tf.maximum(picked, 1e-12)) * weights, axis=1)
        return nll, tf.reduce_sum(weights, axis=1)

    # ----- translation --------------------------------------------------------------------
    def translate(self, source_ids, decoding=None):
        """int ``(batch, steps)`` source ids -> ``(translations, scores)``; graph-friendly."""
        options = {**self.decoding, **(decoding or {})}
        encoder_outputs, initial, source_mask = self.encode(source_ids)
        lengths = tf.reduce_sum(tf.cast(source_mask, tf.float32), axis=1)
        max_lengths = tf.cast(tf.minimum(
            tf.math.ceil(options["max_length_ratio"] * lengths) + options["max_length_offset"],
            float(options["max_length"])), tf.int32)
        return self.text_decoder.generate(initial, encoder_outputs, source_mask, max_lengths,
                                          options)

    def get_config(self):
        return {**super().get_config(),
                "source_vocabulary_size": self.source_vocabulary_size,
                "target_vocabulary": self.target_vocabulary,
                "target_tokenizer": self.target_tokenizer_config,
                "cell": self.cell, "units": self.units, "embedding_dim": self.embedding_dim,
                "layers": self.num_layers, "bidirectional": self.bidirectional,
                "attention": self.attention_type, "hidden_units": self.hidden_units,
                "dropout": self.dropout, "decoding": self.decoding}


@keras.saving.register_keras_serializable(package="seqtasks")
class Translator(keras.layers.Layer):
    """The translating half of a :class:`Seq2Seq` as a layer: int ``(batch, steps)`` source
    ids -> ``(translations, scores)``, ``(batch,)`` strings and floats (see
    :meth:`Seq2Seq.translate`). It shares the weights of the ``seq2seq`` it is given.

    Args:
        seq2seq: A :class:`Seq2Seq` (or its serialized config).
    """

    def __init__(self, seq2seq, **kwargs):
        super().__init__(**kwargs)
        self.seq2seq = keras.saving.deserialize_keras_object(seq2seq) \
            if isinstance(seq2seq, dict) else seq2seq

    def build(self, input_shape):
        if not self.seq2seq.built:
            self.seq2seq.build(None)

    def call(self, source_ids):
        return self.seq2seq.translate(source_ids)

    def compute_output_spec(self, source_ids):
        batch = source_ids.shape[:1]
        return keras.KerasTensor(batch, dtype="string"), keras.KerasTensor(batch, dtype="float32")

    def get_config(self):
        return {**super().get_config(),
                "seq2seq": keras.saving.serialize_keras_object(self.seq2seq)}
