"""Masked pooling of a sequence of hidden states into one vector."""

import keras
from keras import ops

MODES = ("mean", "max", "attention")


@keras.saving.register_keras_serializable(package="seqtasks")
class SequencePooling(keras.layers.Layer):
    """Pool ``(batch, steps, units)`` over time, ignoring masked (padding) steps.

    Args:
        mode: ``"mean"``, ``"max"`` or ``"attention"``: the weighted sum of the states, the
            weights a softmax over the real steps of ``v . tanh(W h_t + b)`` (additive
            attention with a learned query, as in Yang et al., 2016). Default ``"mean"``.

    Call arguments:
        inputs: ``(batch, steps, units)`` tensor.
        mask: Optional boolean ``(batch, steps)``; False marks padding. A sequence with no
            real step pools to zeros.

    Example:

    ```python
    SequencePooling("max")(np.ones((2, 5, 3), "float32"))  # (2, 3)
    ```
    """

    def __init__(self, mode="mean", **kwargs):
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
        super().__init__(**kwargs)
        self.mode = mode
        self.supports_masking = True

    def build(self, input_shape):
        if self.mode == "attention":  # the query's size is the states'
            self.project = keras.layers.Dense(input_shape[-1], activation="tanh",
                                              name="project")
            self.score = keras.layers.Dense(1, use_bias=False, name="score")
            self.project.build(input_shape)
            self.score.build(input_shape)

    def weights_over_steps(self, inputs, mask=None):
        """``(batch, steps)`` attention weights (mode ``"attention"``): 0 at padding, summing
        to 1 over each sequence's real steps."""
        scores = ops.squeeze(self.score(self.project(inputs)), -1)
        if mask is not None:
            scores = ops.where(ops.cast(mask, "bool"), scores, -1e9)
        weights = ops.softmax(scores, axis=-1)
        return weights if mask is None else weights * ops.cast(mask, weights.dtype)

    def call(self, inputs, mask=None):
        if self.mode == "attention":  # needs no count: the weights sum to 1 over real steps
            weights = self.weights_over_steps(inputs, mask)
            return ops.sum(ops.expand_dims(weights, -1) * inputs, axis=1)
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        count = ops.sum(ops.cast(keep, inputs.dtype), axis=1)
        if self.mode == "mean":
            total = ops.sum(ops.where(keep, inputs, 0.0), axis=1)
            return total / ops.maximum(count, 1.0)
        lowest = ops.min(inputs) - 1.0
        best = ops.max(ops.where(keep, inputs, lowest), axis=1)
        return ops.where(count > 0, best, 0.0)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
