"""The prediction head of the design note: a ReLU dense layer, then a softmax."""

import keras


@keras.saving.register_keras_serializable(package="seqtasks")
class PredictionHead(keras.layers.Layer):
    """Hidden state -> ReLU dense layer -> output layer (softmax by default).

    Applied to ``(batch, units)`` it predicts one distribution per example; applied to
    ``(batch, steps, units)`` it predicts one per step.

    Args:
        num_outputs: Positive integer, size of the output (classes, vocabulary, horizon).
        hidden_units: Positive integer, size of the ReLU layer. Default 128.
        dropout: Float in [0, 1), dropout before the output layer in training. Default 0.
        output_activation: ``"softmax"`` (default) or ``"linear"`` for regression.

    Call arguments:
        inputs: ``(..., units)`` tensor.
        training: Whether dropout applies.

    Example:

    ```python
    head = PredictionHead(10, hidden_units=32)
    probs = head(np.zeros((4, 16), "float32"))  # (4, 10), rows sum to 1
    ```
    """

    def __init__(self, num_outputs, hidden_units=128, dropout=0.0, output_activation="softmax",
                 **kwargs):
        for name, value in (("num_outputs", num_outputs), ("hidden_units", hidden_units)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
        super().__init__(**kwargs)
        self.num_outputs = num_outputs
        self.hidden_units = hidden_units
        self.dropout = float(dropout)
        self.output_activation = output_activation
        self.hidden = keras.layers.Dense(hidden_units, activation="relu", name="hidden")
        self.drop = keras.layers.Dropout(self.dropout)
        # float32 whatever the dtype policy: a softmax (or a regression output) in bfloat16
        # loses too much precision
        self.out = keras.layers.Dense(num_outputs, activation=output_activation, name="output",
                                      dtype="float32")
        self.supports_masking = True

    def build(self, input_shape):
        self.hidden.build(input_shape)
        self.out.build((*input_shape[:-1], self.hidden_units))

    def call(self, inputs, training=False):
        return self.out(self.drop(self.hidden(inputs), training=training))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_outputs)

    def compute_output_spec(self, inputs, training=False):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="float32")

    def get_config(self):
        return {
            **super().get_config(),
            "num_outputs": self.num_outputs,
            "hidden_units": self.hidden_units,
            "dropout": self.dropout,
            "output_activation": self.output_activation,
        }
