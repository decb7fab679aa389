"""ElmanCell / ElmanRNN against a NumPy reference, SimpleRNN, and finite differences."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import tensorflow as tf  # noqa: E402

from seqtasks.layers import ElmanCell, ElmanRNN  # noqa: E402

B, T, D, U = 3, 7, 4, 5


def numpy_elman(x, w, b, h0=None, mask=None):
    """h_t = tanh([x_t ; h_(t-1)] W + b); masked steps keep h_(t-1). Returns (states, final)."""
    batch, steps, _ = x.shape
    h = np.zeros((batch, w.shape[1])) if h0 is None else h0.astype("float64")
    states = []
    for t in range(steps):
        new = np.tanh(np.concatenate([x[:, t], h], axis=1) @ w + b)
        if mask is not None:
            new = np.where(mask[:, t:t + 1], new, h)
        h = new
        states.append(h)
    return np.stack(states, axis=1), h


@pytest.fixture
def x():
    return np.random.default_rng(0).normal(size=(B, T, D)).astype("float32")


def fixed_weights(layer):
    rng = np.random.default_rng(1)
    w = rng.normal(scale=0.5, size=(D + U, U)).astype("float32")
    b = rng.normal(scale=0.1, size=(U,)).astype("float32")
    layer.set_weights([w, b])
    return w, b


def same_weight_pair(input_shape, **kwargs):
    """An ElmanRNN and a SimpleRNN built for ``input_shape`` holding the same fixed weights."""
    elman, simple = ElmanRNN(U, **kwargs), keras.layers.SimpleRNN(U, **kwargs)
    elman.build(input_shape)
    simple.build(input_shape)
    w, b = fixed_weights(elman)
    simple.set_weights([w[:D], w[D:], b])
    return elman, simple


def test_keras_dropout_mixin_is_where_elman_cell_expects_it():
    from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

    assert issubclass(ElmanCell, DropoutRNNCell)


def test_matches_numpy_reference(x):
    layer = ElmanRNN(U, return_sequences=True, return_state=True)
    layer.build(x.shape)
    w, b = fixed_weights(layer)
    outputs, final = layer(x)
    ref_states, ref_final = numpy_elman(x, w, b)
    np.testing.assert_allclose(outputs, ref_states, atol=1e-5)
    np.testing.assert_allclose(final, ref_final, atol=1e-5)


def test_cell_in_keras_rnn_matches_numpy_reference(x):
    layer = keras.layers.RNN(ElmanCell(U), return_sequences=True)
    layer.build(x.shape)
    w, b = fixed_weights(layer)
    np.testing.assert_allclose(layer(x), numpy_elman(x, w, b)[0], atol=1e-5)


def test_initial_state_matches_numpy(x):
    layer = ElmanRNN(U, return_state=True)
    layer.build(x.shape)
    w, b = fixed_weights(layer)
    h0 = np.random.default_rng(2).normal(size=(B, U)).astype("float32")
    _, final = layer(x, initial_state=[h0])
    np.testing.assert_allclose(final, numpy_elman(x, w, b, h0=h0)[1], atol=1e-5)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_equals_simple_rnn_with_same_weights(x, go_backwards, zero_output_for_mask):
    mask = np.ones((B, T), bool)
    mask[0, :3] = False
    mask[1, 5:] = False
    kwargs = dict(return_sequences=True, return_state=True, go_backwards=go_backwards,
                  zero_output_for_mask=zero_output_for_mask)
    elman, simple = same_weight_pair(x.shape, **kwargs)
    for m in (None, mask):
        for got, want in zip(elman(x, mask=m), simple(x, mask=m)):
            np.testing.assert_allclose(got, want, atol=1e-5)


def test_gradients_equal_simple_rnn(x):
    mask = np.ones((B, T), bool)
    mask[2, :2] = False
    elman, simple = same_weight_pair(x.shape, return_sequences=True)
    xt = tf.constant(x)

    def grads(layer):
        with tf.GradientTape() as tape:
            tape.watch(xt)
            loss = tf.reduce_sum(tf.sin(layer(xt, mask=mask)) * np.arange(U))
        return tape.gradient(loss, [xt, *layer.trainable_weights])

    ge, gs = grads(elman), grads(simple)
    np.testing.assert_allclose(ge[0], gs[0], atol=1e-5)
    np.testing.assert_allclose(ge[1], np.concatenate([gs[1], gs[2]]), atol=1e-5)
    np.testing.assert_allclose(ge[2], gs[3], atol=1e-5)


def test_gradients_equal_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 3))
    mask = np.array([[True, True, True, False], [False, True, True, True]])
    layer = ElmanRNN(2, return_sequences=True, dtype="float64")
    layer.build(x.shape)
    w = rng.normal(scale=0.5, size=(5, 2))
    b = rng.normal(scale=0.1, size=(2,))
    layer.set_weights([w, b])
    probe = rng.normal(size=(2, 4, 2))

    def loss_np(w_, b_):
        states, _ = numpy_elman(x, w_, b_, mask=mask)
        gate = np.cumsum(mask, axis=1)[..., None] > 0  # Keras: zeros before the first real step
        return float((states * gate * probe).sum())

    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x, mask=mask) * probe)
    gw, gb = tape.gradient(loss, layer.trainable_weights)
    assert abs(float(loss) - loss_np(w, b)) < 1e-10
    eps = 1e-6
    num_w = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        wp, wm = w.copy(), w.copy()
        wp[i] += eps
        wm[i] -= eps
        num_w[i] = (loss_np(wp, b) - loss_np(wm, b)) / (2 * eps)
    num_b = np.array([(loss_np(w, b + eps * np.eye(2)[j]) - loss_np(w, b - eps * np.eye(2)[j]))
                      / (2 * eps) for j in range(2)])
    np.testing.assert_allclose(gw, num_w, atol=1e-6)
    np.testing.assert_allclose(gb, num_b, atol=1e-6)


def _pad(x, left, right):
    return np.pad(x, [(0, 0), (left, right), (0, 0)])


@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_never_changes_results(x, side):
    layer = ElmanRNN(U, return_sequences=True, return_state=True)
    layer.build(x.shape)
    _, ref_final = layer(x)
    ref_outputs = layer(x)[0]
    left, right = (3, 0) if side == "left" else (0, 3)
    padded = _pad(x, left, right)
    mask = np.zeros(padded.shape[:2], bool)
    mask[:, left:left + T] = True
    outputs, final = layer(padded, mask=mask)
    np.testing.assert_allclose(final, ref_final, atol=1e-6)
    np.testing.assert_allclose(outputs[:, left:left + T], ref_outputs, atol=1e-6)


@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_never_changes_results_bidirectional(side):
    rng = np.random.default_rng(4)
    tokens = rng.integers(1, 20, size=(2, 6))
    left, right = (3, 0) if side == "left" else (0, 3)
    padded = np.pad(tokens, [(0, 0), (left, right)])
    inputs = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(20, 4, mask_zero=True)(inputs)
    seq = keras.layers.Bidirectional(ElmanRNN(U, return_sequences=True))(h)
    last = keras.layers.Bidirectional(ElmanRNN(U))(h)
    model = keras.Model(inputs, [seq, last])
    seq_a, last_a = model(tokens)
    seq_b, last_b = model(padded)
    np.testing.assert_allclose(last_a, last_b, atol=1e-6)
    np.testing.assert_allclose(seq_a, np.asarray(seq_b)[:, left:left + 6], atol=1e-6)


def test_fully_masked_sequence_returns_initial_state(x):
    layer = ElmanRNN(U, return_state=True)
    out, final = layer(x, mask=np.zeros((B, T), bool))
    np.testing.assert_allclose(final, 0.0)
    np.testing.assert_allclose(out, 0.0)


def test_dropout_is_variational_fresh_per_batch_and_off_at_inference():
    layer = ElmanRNN(U, dropout=0.5, recurrent_dropout=0.5, return_sequences=True, seed=7)
    x = np.ones((2, 6, D), "float32")
    layer.build(x.shape)
    # Same input at every step: with a per-sequence input mask, and zero recurrent weights,
    # every step sees the same dropped input, so outputs are constant over time.
    w = np.zeros((D + U, U), "float32")
    w[:D] = np.random.default_rng(5).normal(size=(D, U))
    layer.set_weights([w, np.zeros(U, "float32")])
    a = np.asarray(layer(x, training=True))
    np.testing.assert_allclose(a, np.repeat(a[:, :1], 6, axis=1), atol=1e-6)
    b = np.asarray(layer(x, training=True))
    assert not np.allclose(a, b), "a new batch must draw a new mask"
    np.testing.assert_allclose(layer(x, training=False), layer(x, training=False))
    np.testing.assert_allclose(layer(x, training=False), np.tanh(np.ones((2, 6, D)) @ w[:D]),
                               atol=1e-5)


def test_dropout_fast_loop_equals_keras_generic_loop():
    """With the same seed, the fused loop and Keras's step-by-step loop draw the same masks."""
    x = np.random.default_rng(6).normal(size=(B, T, D)).astype("float32")
    kwargs = dict(dropout=0.3, recurrent_dropout=0.4, seed=11, return_sequences=True)
    fast, generic = ElmanRNN(U, **kwargs), ElmanRNN(U, unroll=True, **kwargs)
    fast.build(x.shape)
    generic.build(x.shape)
    generic.set_weights(fast.get_weights())

    def run(layer):
        with tf.GradientTape() as tape:
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.sin(y))
        return y, tape.gradient(loss, layer.trainable_weights)

    (ya, ga), (yb, gb) = run(fast), run(generic)
    np.testing.assert_allclose(ya, yb, atol=1e-5)
    for a, b in zip(ga, gb):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_stateful_carries_state_between_calls(x):
    layer = ElmanRNN(U, stateful=True, return_state=True)
    layer(keras.ops.zeros((B, 1, D)))
    layer.reset_state()
    w, b = fixed_weights(layer)
    layer(x[:, :4])
    _, final = layer(x[:, 4:])
    np.testing.assert_allclose(final, numpy_elman(x, w, b)[1], atol=1e-5)


def test_invalid_arguments_name_the_argument():
    with pytest.raises(ValueError, match="units"):
        ElmanCell(0)
    with pytest.raises(ValueError, match="recurrent_dropout"):
        ElmanRNN(4, recurrent_dropout=1.5)


def test_config_round_trip(x):
    layer = ElmanRNN(U, activation="relu", dropout=0.1, recurrent_dropout=0.2,
                     return_sequences=True, go_backwards=True, seed=3)
    clone = ElmanRNN.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    cell = ElmanCell(U, use_bias=False)
    assert ElmanCell.from_config(cell.get_config()).get_config() == cell.get_config()


def test_keras_file_round_trip_safe_mode(tmp_path, x):
    inputs = keras.Input((None, D))
    h = keras.layers.Bidirectional(ElmanRNN(U, return_sequences=True))(inputs)
    h = ElmanRNN(U)(h)
    rnn = keras.layers.RNN(ElmanCell(3))(inputs)
    model = keras.Model(inputs, [h, rnn])
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    for a, b in zip(model(x), loaded(x)):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("steps", [1, 8, 16, 19])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_blocked_time_loop_equals_simple_rnn_at_any_length(steps, go_backwards):
    """The loop runs 8 steps per iteration plus single steps; every length must agree."""
    rng = np.random.default_rng(steps)
    x = rng.normal(size=(2, steps, D)).astype("float32")
    mask = np.ones((2, steps), bool)
    mask[0, : steps // 3] = False
    kwargs = dict(return_sequences=True, go_backwards=go_backwards)
    elman, simple = same_weight_pair(x.shape, **kwargs)
    xt = tf.constant(x)

    def run(layer):
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt, mask=mask)
            loss = tf.reduce_sum(tf.sin(y))
        return [y, *tape.gradient(loss, [xt, *layer.trainable_weights])]

    ye, dxe, dwe, dbe = run(elman)
    ys, dxs, dws, drs, dbs = run(simple)
    np.testing.assert_allclose(ye, ys, atol=1e-5)
    np.testing.assert_allclose(dxe, dxs, atol=1e-5)
    np.testing.assert_allclose(dwe, np.concatenate([dws, drs]), atol=1e-5)
    np.testing.assert_allclose(dbe, dbs, atol=1e-5)


def test_jit_loop_equals_simple_rnn_with_mask_and_dropout_masks():
    """XLA-compiled loops: same outputs and gradients (float32 rounding aside)."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3, 19, D)).astype("float32")
    mask = np.ones((3, 19), bool)
    mask[0, :5] = False
    mask[1, 12:] = False
    kwargs = dict(dropout=0.3, recurrent_dropout=0.3, seed=5, return_sequences=True)
    plain, jitted = ElmanRNN(U, **kwargs), ElmanRNN(U, jit_loop=True, **kwargs)
    plain.build(x.shape)
    jitted.build(x.shape)
    jitted.set_weights(plain.get_weights())
    assert ElmanRNN.from_config(jitted.get_config()).jit_loop

    def run(layer):
        with tf.GradientTape() as tape:
            y = layer(x, mask=mask, training=True)
            loss = tf.reduce_sum(tf.sin(y))
        return [y, *tape.gradient(loss, layer.trainable_weights)]

    for a, b in zip(run(plain), run(jitted)):
        np.testing.assert_allclose(a, b, atol=1e-4)
