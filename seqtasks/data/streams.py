"""Token streams cut for truncated backpropagation through time (stateful training), and the
callback that resets the carried state.

A long text becomes ``batch_size`` contiguous streams side by side; each batch holds the next
``bptt`` tokens of every stream, so row ``r`` of batch ``i + 1`` continues row ``r`` of batch
``i`` and a stateful RNN can carry its hidden state from one batch to the next.
"""

import numpy as np


def tbptt_windows(ids, batch_size, bptt):
    """``(inputs, targets)``, int arrays ``[windows, batch_size, bptt]``; ``targets`` are the
    inputs shifted by one token. The tail that does not fill a whole window is dropped.

    Raises:
        ValueError: the stream is too short for one window of ``batch_size x bptt`` tokens.
    """
    ids = np.asarray(ids)
    per_stream = (len(ids) - 1) // batch_size
    windows = per_stream // bptt
    if windows < 1:
        raise ValueError(f"{len(ids)} tokens are too few for one window of {batch_size} "
                         f"streams x {bptt} steps (need at least {batch_size * bptt + 1})")
    used = windows * bptt

    def cut(offset):
        streams = ids[offset:offset + batch_size * per_stream].reshape(batch_size, per_stream)
        return streams[:, :used].reshape(batch_size, windows, bptt).transpose(1, 0, 2)

    return cut(0), cut(1)


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
