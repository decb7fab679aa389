"""Token streams cut for truncated backpropagation through time (stateful training), and the
callback that resets the carried state.

A long text becomes ``batch_size`` contiguous streams side by side; each batch holds the next
``bptt`` tokens of every stream, so row ``r`` of batch ``i + 1`` continues row ``r`` of batch
``i`` and a stateful RNN can carry its hidden state from one batch to the next.
"""

import numpy as np


def window_count(tokens, batch_size, bptt):
    """``(tokens per stream, windows)`` of a text of ``tokens`` tokens.

    Raises:
        ValueError: the text is too short for one window of ``batch_size x bptt`` tokens.
    """
    per_stream = (tokens - 1) // batch_size
    windows = per_stream // bptt
    if windows < 1:
        raise ValueError(f"{tokens} tokens are too few for one window of {batch_size} "
                         f"streams x {bptt} steps (need at least {batch_size * bptt + 1})")
    return per_stream, windows


def tbptt_windows(ids, batch_size, bptt):
    """``(inputs, targets)``, int arrays ``[windows, batch_size, bptt]``; ``targets`` are the
    inputs shifted by one token. The tail that does not fill a whole window is dropped.

    Raises:
        ValueError: the stream is too short for one window of ``batch_size x bptt`` tokens.
    """
    ids = np.asarray(ids)
    per_stream, windows = window_count(len(ids), batch_size, bptt)
    used = windows * bptt

    def cut(offset):
        streams = ids[offset:offset + batch_size * per_stream].reshape(batch_size, per_stream)
        return streams[:, :used].reshape(batch_size, windows, bptt).transpose(1, 0, 2)

    return cut(0), cut(1)


def window_dataset(ids, batch_size, bptt):
    """The windows of :func:`tbptt_windows` as a ``tf.data`` dataset read from ``ids`` (a
    memory-mapped file, say) one window at a time, never copied whole."""
    import tensorflow as tf

    per_stream, windows = window_count(len(ids), batch_size, bptt)
    starts = np.arange(batch_size) * per_stream

    def generate():
        for window in range(windows):
            at = starts + window * bptt
            rows = np.stack([ids[a:a + bptt + 1] for a in at]).astype(np.int32)
            yield rows[:, :-1], rows[:, 1:]

    spec = tf.TensorSpec([batch_size, bptt], tf.int32)
    dataset = tf.data.Dataset.from_generator(generate, output_signature=(spec, spec))
    return dataset.apply(tf.data.experimental.assert_cardinality(windows))


def reset_states(model):
    """Zero the carried state of every stateful recurrent layer of ``model``."""
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_state()


def reset_states_callback():
    """A Keras callback zeroing the carried states at every epoch and evaluation."""
    import keras

    class ResetStates(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            reset_states(self.model)

        def on_test_begin(self, logs=None):
            reset_states(self.model)

        def on_test_end(self, logs=None):
            reset_states(self.model)

    return ResetStates()
