import keras
import pytest

from seqtasks import training
from seqtasks.config import COMMON, defaults


def test_callbacks_follow_the_train_configuration(tmp_path):
    train = defaults(COMMON)["train"] | {"early_stopping_patience": 2, "reduce_lr_patience": 1,
                                         "monitor": "val_accuracy"}
    kinds = {type(c): c for c in training.callbacks(tmp_path, train)}
    assert kinds[keras.callbacks.EarlyStopping].monitor == "val_accuracy"
    assert kinds[keras.callbacks.ReduceLROnPlateau].patience == 1
    assert keras.callbacks.TensorBoard in kinds
    # the backup comes last: it saves the decisions the other callbacks made at an epoch's end
    assert isinstance(training.callbacks(tmp_path, train)[-1], keras.callbacks.BackupAndRestore)
    off = defaults(COMMON)["train"] | {"early_stopping_patience": 0, "reduce_lr_patience": 0}
    kinds = {type(c) for c in training.callbacks(tmp_path, off)}
    assert keras.callbacks.EarlyStopping not in kinds
    assert keras.callbacks.ReduceLROnPlateau not in kinds


def _padded(value, extra):
    """``value`` (a batch, or a tuple or dict of them) with ``extra`` more padding positions
    (zeros: padding ids, padding tags and zero weights) on every sequence axis (images, as
    bytes, stay as they are)."""
    import tensorflow as tf

    if isinstance(value, dict):
        return {k: _padded(v, extra) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_padded(v, extra) for v in value)
    if value.dtype == tf.uint8:
        return value
    paddings = [[0, 0], [0, extra]] + [[0, 0]] * (len(value.shape) - 2)
    return tf.pad(value, paddings)


@pytest.mark.parametrize("name", ["tagging", "translation", "captioning"])
def test_extra_padding_changes_neither_the_loss_nor_the_gradients(name, tmp_path):
    """The loss is the mean over real positions: a NumPy mean of -log p(target) over the
    weighted positions, and the same, with the same gradients, after 7 more padding positions.
    (Keras's default divides by the padding too, unless the model's output carries a Keras
    mask, as tagging's does: translation and captioning failed this test before.)"""
    import numpy as np
    import tensorflow as tf
    from samples import tiny_task

    keras.utils.set_random_seed(0)
    task = tiny_task(name, tmp_path)
    x, y, weights = next(iter(task.build_datasets()["train"]))
    model = task.build_model()

    def loss_and_gradients(x, y, weights):
        with tf.GradientTape() as tape:
            predictions = model(x, training=False)
            loss = model.compute_loss(x=x, y=y, y_pred=predictions, sample_weight=weights)
        return predictions, loss, tape.gradient(loss, model.trainable_variables)

    predictions, loss, gradients = loss_and_gradients(x, y, weights)
    p = np.take_along_axis(predictions.numpy(), y.numpy()[..., None], axis=-1)[..., 0]
    w = weights.numpy()
    assert w.sum() > 0
    np.testing.assert_allclose(float(loss), (-np.log(p) * w).sum() / w.sum(), rtol=1e-5)

    _, padded_loss, padded_gradients = loss_and_gradients(*_padded((x, y, weights), 7))
    np.testing.assert_allclose(float(padded_loss), float(loss), rtol=1e-5)
    for g, padded in zip(gradients, padded_gradients):
        np.testing.assert_allclose(tf.convert_to_tensor(padded).numpy(),
                                   tf.convert_to_tensor(g).numpy(), rtol=1e-4, atol=1e-7)


def test_the_training_order_depends_only_on_the_seed_and_the_epoch():
    """An interrupted run that resumes at epoch e sees epoch e's order, not the first one's."""
    import tensorflow as tf

    from seqtasks.data.batching import epoch_variable, shuffle_every_epoch

    def order(seed, epoch):
        epoch_variable().assign(epoch)
        dataset = shuffle_every_epoch(tf.data.Dataset.range(50).cache(), 50, seed)
        return [int(x) for x in dataset]

    orders = {(s, e): order(s, e) for s in (0, 7) for e in (0, 1, 2)}
    assert all(sorted(o) == list(range(50)) for o in orders.values())  # each element once
    assert len({tuple(o) for o in orders.values()}) == 6  # a new order per seed and epoch
    keras.utils.set_random_seed(123)  # the global seed plays no part
    assert order(7, 2) == orders[7, 2] and order(0, 1) == orders[0, 1]


def test_label_smoothing_matches_the_smoothed_one_hot_target_in_numpy(tmp_path):
    """The smoothed loss is the cross-entropy against (1 - e) * one_hot + e / classes,
    averaged over the weighted examples; it round-trips in a .keras file."""
    import keras
    import numpy as np

    from seqtasks.training import SmoothedSparseCrossentropy, mean_over_real_positions

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), size=6).astype("float32")
    labels = rng.integers(0, 5, size=6)
    weights = np.array([1, 1, 0, 1, 1, 0], "float32")
    e = 0.1
    target = (1 - e) * np.eye(5)[labels] + e / 5
    per_example = -(target * np.log(probs)).sum(axis=1)
    expected = (per_example * weights).sum() / weights.sum()
    loss = mean_over_real_positions("sparse_categorical_crossentropy", e)
    np.testing.assert_allclose(float(loss(labels, probs, sample_weight=weights)), expected,
                               rtol=1e-5)
    plain = mean_over_real_positions("sparse_categorical_crossentropy")
    np.testing.assert_allclose(float(SmoothedSparseCrossentropy(0.0)(labels, probs)),
                               float(plain(labels, probs)), rtol=1e-5)

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, activation="softmax")])
    model.compile("adam", loss=loss)
    model.save(tmp_path / "m.keras")
    assert keras.models.load_model(tmp_path / "m.keras").loss.label_smoothing == e
