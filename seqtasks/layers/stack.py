"""Recurrent stacks built from a model configuration: one place that maps ``model.cell``."""

import keras

from seqtasks.layers.elman import ElmanRNN

CELLS = {
    "elman": ElmanRNN,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}


def recurrent_layer(cell, units, *, dropout=0.0, return_sequences=False, bidirectional=False,
                    name=None, **kwargs):
    """One recurrent layer of the named cell, optionally wrapped in ``Bidirectional``."""
    layer = CELLS[cell](units, dropout=dropout, return_sequences=return_sequences,
                        name=None if bidirectional else name, **kwargs)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer, name=name)
    return layer


def recurrent_stack(inputs, model_config, *, return_sequences=False, name="encoder"):
    """Apply ``model.layers`` recurrent layers; only the last may drop the time axis."""
    x = inputs
    count = model_config["layers"]
    for i in range(count):
        last = i == count - 1
        x = recurrent_layer(
            model_config["cell"],
            model_config["units"],
            dropout=model_config["dropout"],
            return_sequences=return_sequences or not last,
            bidirectional=model_config["bidirectional"],
            name=f"{name}_{i}",
        )(x)
    return x
