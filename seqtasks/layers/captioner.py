"""An image captioner: an image encoder whose features start a recurrent text decoder.

The Show-and-Tell shape: the encoder's feature grid, flattened, sets the decoder's initial
hidden state through a tanh layer; with ``attention="bahdanau"`` the decoder also attends over
the grid's positions at every step (Show, Attend and Tell). The decoder half is the same
:class:`~seqtasks.layers.TextDecoder` that translation uses, so teacher forcing, greedy and beam
decoding are shared.
"""

import keras
import tensorflow as tf

from seqtasks.layers.images import IMAGE_ENCODERS
from seqtasks.layers.text_decoder import DEFAULT_DECODING, TextDecoder


@keras.saving.register_keras_serializable(package="seqtasks")
class Captioner(keras.layers.Layer):
    """Image encoder + recurrent decoder.

    Args:
        vocabulary: Caption tokens (without padding, unknown, start and end tokens).
        tokenizer: ``TextTokenizer`` configuration of the captions.
        image_size: Side of the square images the encoder takes.
        encoder: A key of :data:`~seqtasks.layers.images.IMAGE_ENCODERS`.
        encoder_weights: ``None``, ``"imagenet"`` or a weights file, used when the layer is
            created; a saved model's own weights replace them when it is loaded.
        train_encoder: Whether the encoder's weights are trained (``False`` freezes them,
            batch-normalisation statistics included).
        cell, units, embedding_dim, attention, hidden_units, dropout: of the decoder (see
            :class:`~seqtasks.layers.TextDecoder`); ``dropout`` also applies to the image
            features.
        decoding: ``{"strategy", "beam_width", "length_penalty", "max_length"}``.

    Call arguments:
        inputs: ``(images, captions_in)``: ``uint8 [batch, size, size, 3]`` pixels and int
            ``[batch, captions, steps]`` caption ids starting with the start id (rows of
            zeros for images with fewer captions). Returns next-token probabilities
            ``[batch, captions, steps, vocabulary size]``; the image is encoded once for all
            its captions. Called on the ``images`` alone, the layer generates:
            ``(captions, scores)``, ``(batch,)`` strings and their summed log-probabilities
            (:meth:`caption_pixels` with the layer's ``decoding``).

    :meth:`image_features` gives an image's flattened feature grid.
    """

    def __init__(self, vocabulary, tokenizer=None, image_size=64, encoder="cnn",
                 encoder_weights=None, train_encoder=True, cell="elman", units=256,
                 embedding_dim=128, attention="bahdanau", hidden_units=256, dropout=0.0,
                 decoding=None, **kwargs):
        if encoder not in IMAGE_ENCODERS:
            raise ValueError(f"`encoder` must be one of {tuple(IMAGE_ENCODERS)}. "
                             f"Received: encoder={encoder!r}")
        super().__init__(**kwargs)
        self.vocabulary = list(vocabulary)
        self.tokenizer_config = dict(tokenizer or {})
        self.image_size = image_size
        self.encoder_name = encoder
        self.train_encoder = train_encoder
        self.cell = cell
        self.units = units
        self.embedding_dim = embedding_dim
        self.attention_type = attention
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.decoding = {**DEFAULT_DECODING, **(decoding or {})}

        self.image_encoder = IMAGE_ENCODERS[encoder](image_size, encoder_weights)
        self.image_encoder.trainable = train_encoder
        self.feature_dropout = keras.layers.Dropout(dropout)
        self.text_decoder = TextDecoder(
            self.vocabulary, self.tokenizer_config, cell=cell, units=units,
            embedding_dim=embedding_dim, attention=attention, hidden_units=hidden_units,
            dropout=dropout, name="text_decoder")
        self.init = [keras.layers.Dense(units, activation="tanh", name=f"init_{i}")
                     for i in range(self.text_decoder.states)]

    def build(self, input_shape):
        # Run once on a dummy batch: creates every weight of every sublayer.
        images = tf.zeros((1, self.image_size, self.image_size, 3), tf.uint8)
        self.call((images, tf.ones((1, 1, 2), tf.int32)), training=False)

    # ----- the image side -----------------------------------------------------------------
    def encode(self, images, training=False):
        """``(memory [batch, positions, channels], decoder initial states, features)``;
        ``features`` is the flattened feature grid."""
        grid = self.image_encoder(tf.cast(images, tf.float32),
                                  training=training and self.train_encoder)
        shape = tf.shape(grid)
        memory = tf.reshape(grid, [shape[0], shape[1] * shape[2], grid.shape[-1]])
        features = tf.reshape(grid, [shape[0], grid.shape[1] * grid.shape[2] * grid.shape[3]])
        dropped = self.feature_dropout(features, training=training)
        return memory, [dense(dropped) for dense in self.init], features

    def image_features(self, images):
        """The flattened feature grid of ``uint8`` pixels (for nearest-neighbour search)."""
        return self.encode(images)[2]

    def call(self, inputs, training=False):
        if not isinstance(inputs, (list, tuple)):
            return self.caption_pixels(inputs)
        images, captions_in = inputs
        memory, initial, _ = self.encode(images, training)
        shape = tf.shape(captions_in)
        per_image = shape[1]
        flat = tf.reshape(captions_in, [-1, shape[2]])
        initial = [tf.repeat(state, per_image, axis=0) for state in initial]
        memory = tf.repeat(memory, per_image, axis=0) if self.attention_type != "none" else None
        probs = self.text_decoder(flat, initial, memory, training=training)
        return tf.reshape(probs, [shape[0], per_image, shape[2], len(self.text_decoder.tokens)])

    # ----- captioning ---------------------------------------------------------------------
    def caption_pixels(self, images, decoding=None):
        """``uint8 [batch, size, size, 3]`` -> ``(captions, scores)``; graph-friendly. A
        caption has at least one token."""
        options = {**self.decoding, **(decoding or {})}
        memory, initial, _ = self.encode(images)
        max_lengths = tf.fill([tf.shape(images)[0]], int(options["max_length"]))
        return self.text_decoder.generate(initial, memory, None, max_lengths, options,
                                          min_length=1)

    def compute_output_spec(self, inputs, training=False):
        if isinstance(inputs, (list, tuple)):
            return super().compute_output_spec(inputs, training=training)
        batch = inputs.shape[:1]
        return keras.KerasTensor(batch, dtype="string"), keras.KerasTensor(batch, dtype="float32")

    def get_config(self):
        # encoder_weights are not saved: a loaded model gets its trained weights from the file.
        return {**super().get_config(), "vocabulary": self.vocabulary,
                "tokenizer": self.tokenizer_config, "image_size": self.image_size,
                "encoder": self.encoder_name, "train_encoder": self.train_encoder,
                "cell": self.cell, "units": self.units, "embedding_dim": self.embedding_dim,
                "attention": self.attention_type, "hidden_units": self.hidden_units,
                "dropout": self.dropout, "decoding": self.decoding}
