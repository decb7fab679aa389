"""Word vectors from subword pieces: a tagger that reads pieces still gives one tag per word."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="seqtasks")
class PieceEmbedding(keras.layers.Layer):
    """``(batch, steps, pieces)`` piece ids -> ``(batch, steps, output_dim)``: the mean of
    the embeddings of each word's pieces (id 0 = padding, left out of the mean).

    A word made of pieces that training saw gets a vector, however rare the word; the output
    mask is "the word has pieces", which is "the token is not padding".

    Args:
        input_dim: Size of the piece vocabulary (padding and OOV ids included).
        output_dim: Size of the embeddings.

    Example:

    ```python
    vectors = PieceEmbedding(10, 4)(np.array([[[2, 3], [4, 0], [0, 0]]]))  # (1, 3, 4)
    ```
    """

    def __init__(self, input_dim, output_dim, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = input_dim, output_dim
        self.embedding = keras.layers.Embedding(input_dim, output_dim, name="piece_embedding")

    def build(self, input_shape):
        self.embedding.build((None, None))

    def call(self, piece_ids):
        real = ops.cast(ops.expand_dims(piece_ids > 0, -1), self.compute_dtype)
        total = ops.sum(self.embedding(piece_ids) * real, axis=2)
        return total / ops.maximum(ops.sum(real, axis=2), 1.0)

    def compute_mask(self, piece_ids, mask=None):
        return ops.any(piece_ids > 0, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim}
