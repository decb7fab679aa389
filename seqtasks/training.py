"""The one training loop every recipe uses: Keras ``fit`` with checkpoints and resumption.

A run directory holds ``config.toml``, ``backup/`` (weights, optimizer state and epoch,
written after every epoch so that a run killed mid-epoch resumes from the last completed one),
``checkpoints/``, TensorBoard ``logs/``, ``history.csv`` and, once training has finished,
``model.keras``.
"""

import contextlib
import sys
import time
import warnings
from pathlib import Path

import keras

from seqtasks.files import atomic_file


def callbacks(run_dir, train_config, extra=()):
    run_dir = Path(run_dir)
    result = [
        keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        keras.callbacks.ModelCheckpoint(str(run_dir / "checkpoints" / "epoch-{epoch:03d}.keras")),
        keras.callbacks.TensorBoard(str(run_dir / "logs")),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
    ]
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    patience = train_config["early_stopping_patience"]
    if patience > 0:
        result.append(keras.callbacks.EarlyStopping(
            monitor=train_config["monitor"], patience=patience, restore_best_weights=True))
    if train_config["reduce_lr_patience"] > 0:
        result.append(keras.callbacks.ReduceLROnPlateau(
            monitor=train_config["monitor"], factor=1 / 3,
            patience=train_config["reduce_lr_patience"], min_lr=1e-5))
    return result + list(extra)


def fit(model, datasets, run_dir, train_config, extra_callbacks=(), verbose=None):
    """Train ``model`` on ``datasets['train']``, validating on ``datasets['validation']``.

    Resumes from ``run_dir/backup`` when an earlier run stopped early; once done, saves
    ``run_dir/model.keras`` (atomically) and returns ``{"epochs": n, "seconds": s}``.
    """
    run_dir = Path(run_dir)
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    # Bucketed datasets have no known length, so Keras warns at the end of every first epoch.
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    start = time.time()
    history = model.fit(
        datasets["train"],
        validation_data=datasets["validation"],
        epochs=train_config["epochs"],
        shuffle=False,  # the tf.data pipeline shuffles (seeded) before bucketing
        callbacks=callbacks(run_dir, train_config, extra_callbacks),
        verbose=verbose,
    )
    with atomic_file(run_dir / "model.keras") as tmp:
        model.save(tmp)
    return {"epochs_run": len(history.epoch), "seconds": round(time.time() - start, 2)}


#: The losses a recipe names, as Keras classes.
LOSSES = {
    "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
    "mse": keras.losses.MeanSquaredError,
}


def mean_over_real_positions(name):
    """Loss ``name`` averaged over the weighted positions of a batch: the sum of the weighted
    losses divided by the sum of the weights. Keras's default divides by every position,
    padding included, so a batch's loss and step size would depend on its padding."""
    return LOSSES[name](reduction="mean_with_sample_weight")


def per_example_loss(loss):
    """The loss of each example, unreduced, for a compiled model's ``loss`` (a Keras ``Loss``
    object, as :func:`compile_model` sets it, or a name, as older ``.keras`` files hold it)."""
    return loss.call if isinstance(loss, keras.losses.Loss) else keras.losses.get(loss)


@contextlib.contextmanager
def dtype_policy(name):
    """Layers created inside take the Keras dtype policy ``name`` (``train.precision``); the
    global policy is restored on the way out."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def compile_model(model, train_config, metrics=(), weighted_metrics=(),
                  loss="sparse_categorical_crossentropy"):
    """Compile with Adam (``train.learning_rate``, ``train.clipnorm``) and ``loss`` (sparse
    categorical cross-entropy by default), averaged over real positions. ``weighted_metrics``
    see the per-token sample weights that mask padding."""
    model.compile(
        optimizer=keras.optimizers.Adam(
            train_config["learning_rate"], clipnorm=train_config["clipnorm"] or None),
        loss=mean_over_real_positions(loss),
        metrics=list(metrics) or None,
        weighted_metrics=list(weighted_metrics) or None,
        jit_compile=False,
    )
    if model.built:
        # Keras builds the optimizer inside the first traced train step when no strategy is
        # set; a tf.function whose first trace creates variables is traced a second time.
        # Built here, the train step is traced once (translation's tiny fit: 7.1 s -> 4.5 s).
        model.optimizer.build(model.trainable_variables)
    return model

