import numpy as np
import pytest

keras = pytest.importorskip("keras")

from helpers import numpy_attention_pooling  # noqa: E402

from seqtasks.layers import FitLength, PredictionHead  # noqa: E402


def test_prediction_head_is_relu_dense_then_softmax():
    head = PredictionHead(4, hidden_units=6)
    x = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    probs = np.asarray(head(x))
    w1, b1, w2, b2 = head.get_weights()
    logits = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    ref = np.exp(logits - logits.max(1, keepdims=True))
    ref /= ref.sum(1, keepdims=True)
    np.testing.assert_allclose(probs, ref, atol=1e-6)


def test_prediction_head_per_step_and_linear_output():
    head = PredictionHead(2, hidden_units=3, output_activation="linear")
    assert head(np.ones((2, 7, 5), "float32")).shape == (2, 7, 2)


def test_prediction_head_round_trip(tmp_path):
    inputs = keras.Input((5,))
    model = keras.Model(inputs, PredictionHead(3, hidden_units=4, dropout=0.2)(inputs))
    model.save(tmp_path / "h.keras")
    loaded = keras.models.load_model(tmp_path / "h.keras", safe_mode=True)
    x = np.ones((2, 5), "float32")
    np.testing.assert_allclose(model(x), loaded(x), atol=1e-6)
    with pytest.raises(ValueError, match="num_outputs"):
        PredictionHead(0)


def test_fit_length_truncates_and_pads_empty():
    layer = FitLength(3)
    np.testing.assert_array_equal(layer(np.array([[5, 6, 7, 8]])), [[5, 6, 7]])
    assert tuple(layer(np.zeros((2, 0), "int64")).shape) == (2, 1)
    assert FitLength.from_config(layer.get_config()).max_length == 3


def test_sequence_pooling_ignores_padding_against_numpy():
    from seqtasks.layers import SequencePooling

    x = np.random.default_rng(1).normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[True, True, True, False, False], [False, True, True, True, True]])
    for mode, reduce in (("mean", np.mean), ("max", np.max)):
        got = np.asarray(SequencePooling(mode)(x, mask=mask))
        want = np.stack([reduce(x[i][mask[i]], axis=0) for i in range(2)])
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.allclose(SequencePooling("max")(x, mask=np.zeros((2, 5), bool)), 0.0)
    assert SequencePooling.from_config(SequencePooling("max").get_config()).mode == "max"


def test_attention_pooling_is_a_softmax_over_the_real_steps_against_numpy(tmp_path):
    import keras

    from seqtasks.layers import SequencePooling

    x = np.random.default_rng(2).normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[True, True, True, False, False], [False, True, True, True, True]])
    pool = SequencePooling("attention")
    got = np.asarray(pool(x, mask=mask))
    w, b = (np.asarray(v) for v in pool.project.weights)
    want = numpy_attention_pooling(x, mask, w, b, np.asarray(pool.score.weights[0]))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    weights = np.asarray(pool.weights_over_steps(x, mask))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    assert (weights[~mask] == 0).all()

    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, SequencePooling("attention", name="pool")(inputs))
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "m.keras")(x), model(x),
                               rtol=1e-6)
