"""Recurrent stacks built from a model configuration: one place that maps ``model.cell``."""

import keras

from seqtasks.layers.elman import ElmanRNN
from seqtasks.layers.pieces import PieceEmbedding

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


def recurrent_stack(inputs, model_config, *, return_sequences=False, name="encoder",
                    **options):
    """Apply ``model.layers`` recurrent layers of ``model.cell`` (``model.units``,
    ``model.dropout``, ``model.bidirectional`` where the recipe has the key); only the last
    may drop the time axis. ``options`` go to every layer (``stateful``; with
    ``return_state`` the layers return their states too, and only the sequences go on)."""
    x = inputs
    count = model_config["layers"]
    for i in range(count):
        last = i == count - 1
        out = recurrent_layer(
            model_config["cell"],
            model_config["units"],
            dropout=model_config["dropout"],
            return_sequences=return_sequences or not last,
            bidirectional=model_config.get("bidirectional", False),
            name=f"{name}_{i}",
            **options,
        )(x)
        x = out[0] if options.get("return_state") else out
    return x


def backbone(ids, vocabulary_size, model_config, *, return_sequences=True, features=None,
             mask_zero=True, embedding_dropout=True, embedding_name="embedding", **options):
    """The body of every recipe network that embeds tokens: int ``ids`` -> ``Embedding``
    (``model.embedding_dim``; id 0 is padding and masked unless ``mask_zero=False``; ids
    ``(batch, steps, pieces)``, the subword pieces of each word, give a
    :class:`~seqtasks.layers.PieceEmbedding`, the mean of each word's pieces) ->
    concatenated with ``features()`` (built after the embedding, when given) -> dropout
    (``model.dropout``, unless ``embedding_dropout=False``) -> :func:`recurrent_stack`
    (``return_sequences`` and ``options`` passed on). The recipe adds its head."""
    if len(ids.shape) == 3:
        x = PieceEmbedding(vocabulary_size, model_config["embedding_dim"],
                           name=embedding_name)(ids)
    else:
        x = keras.layers.Embedding(vocabulary_size, model_config["embedding_dim"],
                                   mask_zero=mask_zero, name=embedding_name)(ids)
    if features is not None:
        x = keras.layers.Concatenate(name="token_features")([x, features()])
    if embedding_dropout and model_config["dropout"]:
        x = keras.layers.Dropout(model_config["dropout"])(x)
    return recurrent_stack(x, model_config, return_sequences=return_sequences, **options)
