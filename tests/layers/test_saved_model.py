"""Every seqtasks layer survives a SavedModel export and reload (no seqtasks needed to run it)."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import tensorflow as tf

from seqtasks.layers import ElmanCell, ElmanRNN, FitLength, PredictionHead, SequencePooling


def test_all_layers_in_one_saved_model(tmp_path):
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(20, 6, mask_zero=True)(FitLength(7)(ids))
    seq = keras.layers.Bidirectional(ElmanRNN(5, return_sequences=True))(x)
    pooled = SequencePooling("max")(seq)
    last = keras.layers.RNN(ElmanCell(4))(x)
    out = PredictionHead(3, hidden_units=4)(keras.layers.Concatenate()([pooled, last]))
    model = keras.Model(ids, out)
    tokens = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 10]], dtype="int32")
    model.export(str(tmp_path / "sm"), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "sm"))
    np.testing.assert_allclose(reloaded.serve(tokens), model(tokens), atol=1e-6)
