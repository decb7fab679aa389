"""Character-level word features: one vector per word from the characters it is spelled with.

Unknown words still get informative features (suffixes, capitals, digits, hyphens), which is
what lets a tagger tag words it never saw in training.
"""

import keras
from keras import ops

from seqtasks.layers.elman import ElmanRNN


class _CharacterEncoder(keras.layers.Layer):
    """Base: ``(batch, steps, chars)`` character ids -> ``(batch, steps, features)``.

    Words are encoded independently: the batch and word axes are merged, each word's
    characters are embedded (id 0 = padding, masked) and reduced to one vector by
    :meth:`encode`. Padding words (no characters) get zeros and are masked: the output mask
    is "the word has characters", which is exactly "the token is not padding".
    """

    def __init__(self, num_chars, embedding_dim=32, units=64, **kwargs):
        super().__init__(**kwargs)
        self.num_chars = num_chars
        self.embedding_dim = embedding_dim
        self.units = units
        self.embedding = keras.layers.Embedding(num_chars, embedding_dim, name="char_embedding")

    def build(self, input_shape):
        self.embedding.build((None, None))
        self.build_encoder((None, None, self.embedding_dim))

    def call(self, char_ids, training=False):
        shape = ops.shape(char_ids)
        flat = ops.reshape(char_ids, (-1, shape[2]))
        mask = flat > 0
        features = self.encode(self.embedding(flat), mask, training)
        has_chars = ops.any(mask, axis=1, keepdims=True)
        features = ops.where(has_chars, features, ops.zeros_like(features))
        return ops.reshape(features, (shape[0], shape[1], self.output_dim))

    def compute_mask(self, char_ids, mask=None):
        return ops.any(char_ids > 0, axis=-1)  # a word is real when it has characters

    def build_encoder(self, embedded_shape):
        raise NotImplementedError

    def encode(self, embedded, mask, training):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "num_chars": self.num_chars,
                "embedding_dim": self.embedding_dim, "units": self.units}


@keras.saving.register_keras_serializable(package="seqtasks")
class CharacterRNN(_CharacterEncoder):
    """A bidirectional Elman RNN over each word's characters; the two final states, joined.

    Args:
        num_chars: Size of the character vocabulary (padding and OOV ids included).
        embedding_dim: Size of the character embeddings. Default 32.
        units: Hidden units of each direction. Default 64; the output has ``2 * units``.
    """

    def __init__(self, num_chars, embedding_dim=32, units=64, **kwargs):
        super().__init__(num_chars, embedding_dim, units, **kwargs)
        self.rnn = keras.layers.Bidirectional(ElmanRNN(units), name="char_rnn")

    @property
    def output_dim(self):
        return 2 * self.units

    def build_encoder(self, embedded_shape):
        self.rnn.build(embedded_shape)

    def encode(self, embedded, mask, training):
        return self.rnn(embedded, mask=mask, training=training)


@keras.saving.register_keras_serializable(package="seqtasks")
class CharacterCNN(_CharacterEncoder):
    """A convolution over each word's characters (width 3, ReLU), max-pooled over the word.

    Args:
        num_chars: Size of the character vocabulary (padding and OOV ids included).
        embedding_dim: Size of the character embeddings. Default 32.
        units: Number of filters, the size of the output. Default 64.
    """

    def __init__(self, num_chars, embedding_dim=32, units=64, **kwargs):
        super().__init__(num_chars, embedding_dim, units, **kwargs)
        self.conv = keras.layers.Conv1D(units, 3, padding="same", activation="relu",
                                        name="char_conv")

    @property
    def output_dim(self):
        return self.units

    def build_encoder(self, embedded_shape):
        self.conv.build(embedded_shape)

    def encode(self, embedded, mask, training):
        embedded = ops.where(mask[..., None], embedded, ops.zeros_like(embedded))
        filtered = self.conv(embedded)
        # ReLU outputs are >= 0, so zeroing padding positions leaves the maximum unchanged.
        return ops.max(ops.where(mask[..., None], filtered, ops.zeros_like(filtered)), axis=1)


CHARACTER_ENCODERS = {"rnn": CharacterRNN, "cnn": CharacterCNN}
