"""The one training loop every recipe uses: Keras ``fit`` with checkpoints and resumption.

A run directory holds ``config.toml``, ``backup/`` (weights, optimizer state and epoch,
written after every epoch so that a run killed mid-epoch resumes from the last completed one),
``checkpoints/``, TensorBoard ``logs/``, ``history.csv`` and, once training has finished,
``model.keras``.
"""

import contextlib
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from seqtasks.files import atomic_file
from seqtasks.losses import SmoothedSparseCrossentropy


class Backup(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` that also keeps what Keras's leaves out, so that a resumed run
    ends exactly as an uninterrupted one: the state of the random seed generators (dropout
    masks) and the counters of the callbacks in ``stateful`` (``EarlyStopping``,
    ``ReduceLROnPlateau``: waits, bests, the best weights). It must come after them in the
    callback list, so that what it saves at the end of an epoch includes their decisions
    (a learning rate just cut) and what it restores is not reset by their ``on_train_begin``.
    """

    STATE = {
        keras.callbacks.EarlyStopping: ("wait", "best", "best_epoch", "stopped_epoch"),
        keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
    }

    def __init__(self, backup_dir, stateful=()):
        super().__init__(str(backup_dir))
        self.stateful = [c for c in stateful if type(c) in self.STATE]
        self.state_path = Path(backup_dir) / "state.json"
        self.best_weights_path = Path(backup_dir) / "best_weights.npz"

    def _seed_states(self):
        return [v for v in self.model.variables if v.name == "seed_generator_state"]

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if not self.state_path.exists():
            return
        state = json.loads(self.state_path.read_text())
        for variable, value in zip(self._seed_states(), state["seeds"]):
            variable.assign(np.asarray(value, dtype=variable.dtype))
        for callback, values in zip(self.stateful, state["callbacks"]):
            for name, value in values.items():
                setattr(callback, name, value)
            if isinstance(callback, keras.callbacks.EarlyStopping) and \
                    self.best_weights_path.exists():
                with np.load(self.best_weights_path) as saved:
                    callback.best_weights = [saved[f"w{i}"] for i in range(len(saved.files))]

    def _save_model(self):
        super()._save_model()
        state = {
            "seeds": [np.asarray(v.numpy()).tolist() for v in self._seed_states()],
            "callbacks": [{name: _plain(getattr(c, name)) for name in self.STATE[type(c)]}
                          for c in self.stateful],
        }
        best = [getattr(c, "best_weights", None) for c in self.stateful
                if isinstance(c, keras.callbacks.EarlyStopping)]
        if best and best[0] is not None:
            with atomic_file(self.best_weights_path) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, **{f"w{i}": w for i, w in enumerate(best[0])})
        with atomic_file(self.state_path) as tmp:
            Path(tmp).write_text(json.dumps(state))


def _plain(value):
    """A callback's counter as JSON (NumPy scalars and infinities included)."""
    return value.item() if hasattr(value, "item") else value


def epoch_order():
    """Tells the training shuffles which epoch is being trained
    (:func:`seqtasks.data.batching.shuffle_every_epoch`)."""
    from seqtasks.data.batching import epoch_variable

    counter = epoch_variable()
    return keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: counter.assign(epoch))


def callbacks(run_dir, train_config, extra=()):
    run_dir = Path(run_dir)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    result = [
        epoch_order(),
        keras.callbacks.ModelCheckpoint(str(run_dir / "checkpoints" / "epoch-{epoch:03d}.keras")),
        keras.callbacks.TensorBoard(str(run_dir / "logs")),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
    ]
    patience = train_config["early_stopping_patience"]
    if patience > 0:
        result.append(keras.callbacks.EarlyStopping(
            monitor=train_config["monitor"], patience=patience, restore_best_weights=True))
    if train_config["reduce_lr_patience"] > 0:
        result.append(keras.callbacks.ReduceLROnPlateau(
            monitor=train_config["monitor"], factor=1 / 3,
            patience=train_config["reduce_lr_patience"], min_lr=1e-5))
    result += list(extra)
    return result + [Backup(run_dir / "backup", stateful=result)]


@contextlib.contextmanager
def _scratch(run_dir):
    """A worker's own temporary run directory, holding a copy of the chief's backup (to
    resume from); removed afterwards."""
    scratch = Path(tempfile.mkdtemp(prefix="seqtasks-worker-"))
    try:
        if (run_dir / "backup").exists():
            shutil.copytree(run_dir / "backup", scratch / "backup")
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def fit(model, datasets, run_dir, train_config, extra_callbacks=(), verbose=None, chief=True):
    """Train ``model`` on ``datasets['train']``, validating on ``datasets['validation']``.

    Resumes from ``run_dir/backup`` when an earlier run stopped early; once done, saves
    ``run_dir/model.keras`` (atomically) and returns ``{"epochs": n, "seconds": s}``.

    Under ``multi_worker`` every worker calls this. Only the chief writes ``run_dir``; the
    others (``chief=False``) resume from the chief's backup and write the same files into
    a temporary directory of their own, removed when training ends: saving may run
    collectives, so every worker must save when the chief does.
    """
    run_dir = Path(run_dir)
    if chief:
        return _fit(model, datasets, run_dir, train_config, extra_callbacks, verbose)
    with _scratch(run_dir) as scratch:
        return _fit(model, datasets, scratch, train_config, extra_callbacks, verbose=0)


def _fit(model, datasets, run_dir, train_config, extra_callbacks, verbose):
    from seqtasks.distribute import distribute_dataset, workers

    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    # Bucketed datasets have no known length, so Keras warns at the end of every first epoch.
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    train, validation = datasets["train"], datasets["validation"]
    cluster = workers(train_config["strategy"]) > 1
    if cluster:
        strategy = model.distribute_strategy
        train = distribute_dataset(strategy, train)
        validation = distribute_dataset(strategy, validation)
    start = time.time()
    with _lost_workers_reported(cluster), _fit_scope(model):
        history = model.fit(
            train,
            validation_data=validation,
            epochs=train_config["epochs"],
            shuffle=False,  # the tf.data pipeline shuffles (seeded) before bucketing
            callbacks=callbacks(run_dir, train_config, extra_callbacks),
            verbose=verbose,
        )
        with atomic_file(run_dir / "model.keras") as tmp:
            model.save(tmp)
    return {"epochs_run": len(history.epoch), "seconds": round(time.time() - start, 2)}


@contextlib.contextmanager
def _fit_scope(model):
    """Under ``multi_worker``, ``fit`` runs inside the strategy's scope with the model's own
    reference to it cleared: Keras 3 builds its metrics before training from a batch it
    averages across workers with ``strategy.reduce``, which fails for MultiWorkerMirrored
    (keras-team/keras#20585); without the reference Keras builds them while tracing the
    first step instead, under the same strategy. Keras's averaging of each step's logs
    across workers fails the same way for scalars; it is replaced, inside this scope only.
    Single-process strategies are untouched."""
    import tensorflow as tf

    strategy = model.distribute_strategy
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        yield
        return
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction="auto"):
        # Keras averages a step's logs across workers with axis=0, which fails for the
        # scalar logs of every step. They are averaged here in one all-reduce (one per
        # dtype) instead of one per log.
        if reduction not in ("auto", "mean"):
            return original(values, strategy, reduction)
        flat = tf.nest.flatten(values)
        reduced = [v if _local(v).shape.rank == 0 else strategy.reduce("MEAN", v, axis=0)
                   for v in flat]
        for dtype in {_local(v).dtype for v in flat if _local(v).shape.rank == 0}:
            where = [i for i, v in enumerate(flat)
                     if _local(v).shape.rank == 0 and _local(v).dtype == dtype]
            stacked = strategy.run(lambda *v: tf.stack(v), args=[flat[i] for i in where])
            mean = strategy.reduce("MEAN", stacked, axis=None)
            for j, i in enumerate(where):
                reduced[i] = mean[j]
        return tf.nest.pack_sequence_as(values, reduced)

    model._distribute_strategy = None
    trainer.reduce_per_replica = reduce_per_replica
    try:
        with strategy.scope():
            yield
    finally:
        model._distribute_strategy = strategy
        trainer.reduce_per_replica = original


def _local(value):
    """A distributed value's local component (the value itself otherwise)."""
    import tensorflow as tf

    return value.values[0] if isinstance(value, tf.distribute.DistributedValues) else value


@contextlib.contextmanager
def _lost_workers_reported(cluster):
    """In a cluster, a collective that fails because a worker went away becomes one line."""
    if not cluster:
        yield
        return
    import tensorflow as tf

    from seqtasks.distribute import role
    from seqtasks.errors import ClusterError

    lost = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
            tf.errors.CancelledError, tf.errors.AbortedError, tf.errors.InternalError)
    try:
        yield
    except lost as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        raise ClusterError(
            f"{role().name}: lost contact with the cluster during training "
            f"({type(e).__name__}: {first}); start every worker again with the same command "
            "to resume from the last completed epoch") from None


#: The losses a recipe names, as Keras classes.
LOSSES = {
    "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
    "mse": keras.losses.MeanSquaredError,
}


def mean_over_real_positions(name, label_smoothing=0.0):
    """Loss ``name`` averaged over the weighted positions of a batch: the sum of the weighted
    losses divided by the sum of the weights. Keras's default divides by every position,
    padding included, so a batch's loss and step size would depend on its padding.
    ``label_smoothing`` (cross-entropy only) gives :class:`SmoothedSparseCrossentropy`."""
    if label_smoothing:
        if name != "sparse_categorical_crossentropy":
            raise ValueError(f"label smoothing needs a cross-entropy loss, not {name!r}")
        return SmoothedSparseCrossentropy(label_smoothing)
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
    categorical cross-entropy by default, smoothed by ``train.label_smoothing`` where the
    recipe has the key), averaged over real positions. ``weighted_metrics``
    see the per-token sample weights that mask padding."""
    model.compile(
        optimizer=keras.optimizers.Adam(
            train_config["learning_rate"], clipnorm=train_config["clipnorm"] or None),
        loss=mean_over_real_positions(loss, train_config.get("label_smoothing", 0.0)),
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

