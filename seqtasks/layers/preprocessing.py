"""Small sequence preprocessing layers used inside exported models."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="seqtasks")
class FitLength(keras.layers.Layer):
    """Truncate token id sequences to ``max_length`` and pad them to at least ``min_length``.

    Keeps inference bounded for very long inputs and gives empty inputs one padding step
    (id 0, masked downstream), so a recurrent layer always sees at least one step.

    Args:
        max_length: Positive integer, the longest sequence kept.
        min_length: Non-negative integer. Default 1.

    Call arguments:
        inputs: ``(batch, steps)`` integer tensor, 0 meaning padding.

    Example:

    ```python
    FitLength(3)(np.array([[5, 6, 7, 8]]))  # [[5, 6, 7]]
    ```
    """

    def __init__(self, max_length, min_length=1, **kwargs):
        if not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"`max_length` must be a positive integer. Received: {max_length!r}")
        super().__init__(**kwargs)
        self.max_length = max_length
        self.min_length = min_length

    def call(self, inputs):
        inputs = inputs[:, : self.max_length]
        missing = ops.maximum(self.min_length - ops.shape(inputs)[1], 0)
        return ops.pad(inputs, [[0, 0], [0, missing]])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None)

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length,
                "min_length": self.min_length}
