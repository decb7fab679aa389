"""The Elman cell and its sequence layer."""

import keras
import tensorflow as tf
from keras import activations, initializers, ops, regularizers

try:  # Keras keeps per-sequence dropout masks only for cells using this (private) mixin.
    from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell
except ImportError as e:  # pragma: no cover - guarded by tests/layers/test_elman.py
    raise ImportError(
        "seqtasks needs keras.src.layers.rnn.dropout_rnn_cell.DropoutRNNCell (Keras 3.15); "
        "install the Keras version pinned in setup.cfg"
    ) from e

from seqtasks.layers import recurrence


def _concat_initializer(kernel_initializer, recurrent_initializer, input_dim, units):
    """Initialise the rows of W acting on x and the rows acting on h separately."""

    def initialize(shape, dtype=None):
        return ops.concatenate(
            [kernel_initializer((input_dim, units), dtype=dtype),
             recurrent_initializer((units, units), dtype=dtype)],
            axis=0,
        )

    return initialize


@keras.saving.register_keras_serializable(package="seqtasks")
class ElmanCell(keras.layers.Layer, DropoutRNNCell):
    """One step of the Elman network: ``h_t = activation([x_t ; h_(t-1)] W + b)``.

    A single weight matrix ``W`` of shape ``(input_dim + units, units)`` acts on the
    concatenation of the event and the previous hidden state.

    Args:
        units: Positive integer, size of the hidden state.
        activation: Activation applied to the pre-activation. Default ``"tanh"``.
        use_bias: Whether to add the bias ``b``. Default ``True``.
        kernel_initializer: Initializer of the rows of ``W`` that act on ``x_t``.
            Default ``"glorot_uniform"``.
        recurrent_initializer: Initializer of the rows of ``W`` that act on ``h_(t-1)``.
            Default ``"orthogonal"``.
        bias_initializer: Initializer of ``b``. Default ``"zeros"``.
        kernel_regularizer: Optional regularizer of ``W``.
        bias_regularizer: Optional regularizer of ``b``.
        dropout: Float in [0, 1), fraction of the input units dropped. The mask is the
            same at every step of a sequence. Default 0.
        recurrent_dropout: Float in [0, 1), fraction of the previous state dropped,
            same mask at every step. Default 0.
        seed: Optional integer seed of the dropout masks.

    Call arguments:
        inputs: ``(batch, input_dim)`` tensor, the event at step t.
        states: list holding the ``(batch, units)`` previous state.
        training: Whether dropout applies.

    Example:

    ```python
    rnn = keras.layers.RNN(ElmanCell(8))
    y = rnn(np.zeros((2, 5, 3), "float32"))  # (2, 8)
    ```
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"`units` must be a positive integer. Received: units={units!r}")
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={rate!r}")
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim + self.units, self.units),
            name="kernel",
            initializer=_concat_initializer(
                self.kernel_initializer, self.recurrent_initializer, input_dim, self.units
            ),
            regularizer=self.kernel_regularizer,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )

    def call(self, inputs, states, training=False):
        nested = isinstance(states, (list, tuple))
        previous = states[0] if nested else states
        input_mask = self.get_dropout_mask(inputs)
        state_mask = self.get_recurrent_dropout_mask(previous)
        if training and input_mask is not None:
            inputs = inputs * input_mask
        if training and state_mask is not None:
            previous = previous * state_mask
        z = ops.matmul(ops.concatenate([inputs, previous], axis=-1), self.kernel)
        if self.use_bias:
            z = z + self.bias
        h = self.activation(z)
        return h, [h] if nested else h

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


_CELL_ARGS = (
    "units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer",
    "bias_initializer", "kernel_regularizer", "bias_regularizer", "dropout",
    "recurrent_dropout", "seed",
)


@keras.saving.register_keras_serializable(package="seqtasks")
class ElmanRNN(keras.layers.RNN):
    """The Elman network over a sequence: a fast ``keras.layers.RNN`` of :class:`ElmanCell`.

    The input projection ``x_t W_x + b`` of every step is computed before the time loop in
    one matrix product; the loop then does one product per step, and a hand-written backward
    pass through time does one per step as well (see :mod:`seqtasks.layers.recurrence`).
    Results equal the step-by-step formula. Masks carry the state through padded steps,
    on either side, and ``Bidirectional`` works as with ``SimpleRNN``.

    Args:
        units, activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, kernel_regularizer, bias_regularizer, dropout, recurrent_dropout,
        seed: As in :class:`ElmanCell`.
        return_sequences: Return the state at every step, not only the last. Default False.
        return_state: Also return the final state. Default False.
        go_backwards: Process the sequence in reverse and return the reversed sequence.
        stateful: Carry the final state of batch i into batch i of the next call.
        unroll: Unroll the time loop (static lengths only); uses Keras's generic loop.
        zero_output_for_mask: Output zeros (not the carried state) at masked steps.
        jit_loop: Compile the forward and backward time loops with XLA. Faster when the
            input shapes repeat (fixed lengths, e.g. windows of a time series); each new
            (batch, steps) shape compiles once more, so leave it off for bucketed
            variable-length batches. Default False.

    Call arguments:
        sequences: ``(batch, steps, features)`` tensor.
        initial_state: Optional list with the ``(batch, units)`` initial state.
        mask: Optional boolean ``(batch, steps)``; False marks padding.
        training: Whether dropout applies.

    Example:

    ```python
    x = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(100, 16, mask_zero=True)(x)
    h = ElmanRNN(32)(h)
    ```
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        jit_loop=False,
        **kwargs,
    ):
        self.jit_loop = bool(jit_loop)
        cell = ElmanCell(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="elman_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            **kwargs,
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)

    @property
    def units(self):
        return self.cell.units

    def _activation_name(self):
        name = activations.serialize(self.cell.activation)
        return name if isinstance(name, str) else None

    def _fast_loop_applies(self):
        return (
            keras.backend.backend() == "tensorflow"
            and not self.unroll
            and recurrence.supports(self._activation_name())
        )

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not self._fast_loop_applies():
            return super().inner_loop(sequences, initial_state, mask, training=training)
        cell = self.cell
        h0 = initial_state[0] if isinstance(initial_state, (list, tuple)) else initial_state
        x = tf.transpose(sequences, [1, 0, 2])  # time-major
        if training and cell.dropout > 0:
            x = x * cell.get_dropout_mask(sequences[:, 0, :])[None]
        recurrent_mask = None
        if training and cell.recurrent_dropout > 0:
            recurrent_mask = cell.get_recurrent_dropout_mask(h0)
        input_dim = x.shape[-1]
        w_x, w_h = cell.kernel[:input_dim], cell.kernel[input_dim:]
        steps, batch = tf.shape(x)[0], tf.shape(x)[1]
        xw = tf.matmul(tf.reshape(x, [-1, input_dim]), w_x)
        if cell.use_bias:
            xw = tf.nn.bias_add(xw, cell.bias)  # fused into the matmul by TensorFlow's remapper
        xw = tf.reshape(xw, [steps, batch, self.units])
        step_mask = None
        if mask is not None:
            step_mask = tf.cast(tf.transpose(mask), xw.dtype)[:, :, None]
        if self.go_backwards:
            xw = tf.reverse(xw, [0])
            step_mask = None if step_mask is None else tf.reverse(step_mask, [0])
        states = recurrence.elman_recurrence(
            xw, w_h, h0, step_mask, recurrent_mask, self._activation_name(), jit=self.jit_loop
        )
        final_state = states[-1]  # Keras's RNN needs at least one step, as does this
        gate = None
        if step_mask is not None:
            # Keras semantics: a masked step outputs zeros (zero_output_for_mask) or repeats
            # the previous output, which is zeros before the first real step.
            gate = step_mask if self.zero_output_for_mask else tf.cast(
                tf.cumsum(step_mask, axis=0) > 0, xw.dtype)
        if self.return_sequences:
            outputs = states if gate is None else states * gate
            last_output = outputs[-1]
            outputs = tf.transpose(outputs, [1, 0, 2])
        else:  # RNN.call only uses the sequence when it returns it: gate the last step only
            last_output = final_state if gate is None else final_state * gate[-1]
            outputs = last_output[:, None]
        return last_output, outputs, [final_state]

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        config.update({name: self.cell.get_config()[name] for name in _CELL_ARGS})
        config["jit_loop"] = self.jit_loop
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
