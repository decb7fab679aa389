"""``seqtasks run`` as a library call: configure, train (resumably), evaluate, export."""

import contextlib
import dataclasses
import json
import pickle
import random
import shutil
import time
from pathlib import Path

from seqtasks import config as config_lib
from seqtasks import scoring
from seqtasks.errors import ConfigError, named
from seqtasks.files import atomic_file, new_run_dir, write_json, write_text


@dataclasses.dataclass
class RunResult:
    run_dir: Path
    metrics: dict
    export_dir: Path


#: What the adaptation pass learned (the preprocessor, length counts, the carved held-out
#: examples), so that a resumed run reads no training data before it trains again.
DATA_STATE = "data_state.pkl"


#: The layout of a data state; a state of another layout (an older seqtasks) is not reused.
DATA_STATE_FORMAT = 2


def _data_key(config):
    """What a data state depends on: the data section and the seed (carving)."""
    return {"data": dict(config["data"]), "seed": config["train"]["seed"],
            "format": DATA_STATE_FORMAT}


def _save_data_state(run_dir, config, state):
    with atomic_file(run_dir / DATA_STATE) as tmp:
        tmp.write_bytes(pickle.dumps({**state, "key": _data_key(config)}))


def _load_data_state(run_dir, config):
    """The data state in ``run_dir`` if there is one for this configuration's data."""
    path = run_dir / DATA_STATE
    if not path.exists():
        return None
    state = pickle.loads(path.read_bytes())
    return state if state.get("key") == _data_key(config) else None


def _wait_for_data_state(run_dir, config, role, echo, poll=0.5, every=30):
    """A worker other than the chief takes the chief's adaptation pass (it reads only its
    own share of the training data): it waits for the chief's data state."""
    start = last = time.monotonic()
    while (state := _load_data_state(run_dir, config)) is None:
        if time.monotonic() - last > every:
            last = time.monotonic()
            echo(f"{role.name}: waiting for the chief's pass over the training data "
                 f"({last - start:.0f} s)")
        time.sleep(poll)
    return state


def _check_same_config(run_dir, config):
    """An existing run directory may only be resumed with the configuration it was started with."""
    saved = run_dir / "config.toml"
    if not saved.exists():
        return
    previous = config_lib.load_config(saved)[1]
    changed = [f"{s}.{k}" for s in config for k in config[s]
               if previous.get(s, {}).get(k) != config[s][k]]
    if changed:
        raise ConfigError(
            f"{run_dir}: holds a run with a different configuration "
            f"({', '.join(changed)}); use another {named('--output', 'output')} to start a "
            "new run"
        )


def run(recipe_or_path, overrides=(), output=None, extra_callbacks=(), echo=print, verbose=None):
    """Train, evaluate and export a recipe; resumes an interrupted run in ``output``.

    Example:
    ```python
    result = seqtasks.run("smart_reply", ["train.epochs=3"], output="runs/demo")
    result.metrics["test"]["accuracy"], result.export_dir
    ```
    """
    recipe, config = config_lib.load_config(recipe_or_path, overrides)
    from seqtasks import distribute

    role = distribute.role(config["train"]["strategy"])
    if config["train"]["strategy"] == "multi_worker":
        # collectives are configured when the strategy is created, before any other op
        distribute.get_strategy("multi_worker")
    if role.workers > 1 and output is None:
        raise ConfigError(f"{named('--output', 'output')}: every worker of a multi_worker "
                          "cluster must be given the same run directory (on storage they all "
                          "reach); found none")
    run_dir = Path(output or new_run_dir(recipe.name))
    metrics_path = run_dir / "metrics.json"
    _check_same_config(run_dir, config)
    if metrics_path.exists():
        metrics = json.loads(metrics_path.read_text())
        echo(f"{run_dir}: this run is already complete; metrics in {metrics_path}")
        return RunResult(run_dir, metrics, Path(metrics.get("export", "")))

    with _seeded(config["train"]["seed"]):
        return _run(recipe, config, role, run_dir, extra_callbacks, echo, verbose)


@contextlib.contextmanager
def _seeded(seed):
    """Python's, NumPy's and TensorFlow's generators seeded for a reproducible run, and put
    back afterwards (Python's and NumPy's states, TensorFlow's global seed), so that the
    caller's random numbers stay its own."""
    import keras
    import numpy as np
    import tensorflow as tf
    from tensorflow.python.eager import context

    states = random.getstate(), np.random.get_state(), context.global_seed()
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        tf.random.set_seed(states[2])


def _run(recipe, config, role, run_dir, extra_callbacks, echo, verbose):
    from seqtasks import export, training

    metrics_path = run_dir / "metrics.json"
    task = recipe(config)
    # the on-disk cache of encoded training examples is the chief's, in the run directory
    task.cache_dir = run_dir / "cache" if role.chief else None
    state = _load_data_state(run_dir, config) if task.reader.streams else None
    if state is not None:
        echo(f"{run_dir}: reusing the adapted preprocessor of {run_dir / DATA_STATE}")
    elif task.reader.streams and not role.chief:
        state = _wait_for_data_state(run_dir, config, role, echo)
    datasets = task.build_datasets(state)  # bad data fails here, before the run dir exists
    new_dir = not run_dir.exists()
    if task.reader.streams and state is None:  # the chief's (or only) process: written once, first
        # (before the model: under multi_worker, building it waits for the other workers)
        _save_data_state(run_dir, config, task.data_state())
    echo(f"data: {json.dumps(task.summary)}")
    for line in task.warnings:
        echo(f"warning: {line}")
    try:
        model = task.build_model()  # so do weights that cannot be loaded
    except BaseException:
        if new_dir and role.chief:  # nothing is left of a run that never started
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    if not role.chief:
        return _work(task, model, datasets, run_dir, config, role, extra_callbacks, echo)
    if not (run_dir / "config.toml").exists():
        write_text(run_dir / "config.toml",
                   config_lib.to_toml(config, recipe.name, recipe.schema()))
    finished = run_dir / "model.keras"
    if finished.exists():
        echo(f"{run_dir}: training already finished; loading {finished}")
        model.load_weights(finished)
        info = run_dir / "training.json"
        train_info = json.loads(info.read_text()) if info.exists() else {}
    else:
        backup = run_dir / "backup"
        if backup.exists():
            echo(f"{run_dir}: resuming from the last completed epoch")
        train_info = training.fit(model, datasets, run_dir, config["train"],
                                  [*task.callbacks(), *extra_callbacks], verbose=verbose)
        write_json(run_dir / "training.json", train_info)
        shutil.rmtree(run_dir / "cache", ignore_errors=True)  # kept only to resume training
    for line in task.calibrate(model):
        echo(line)
    scored = task.evaluate(model)
    scoring.finish(task, scored, run_dir, echo)
    test = scored.metrics
    export_dir = export.export(task, model)
    echo(f"exported: {export_dir}")
    metrics = {"test": test, "data": task.summary, "train": train_info,
               "export": str(export_dir)}
    write_json(metrics_path, metrics)
    return RunResult(run_dir, metrics, export_dir)


def _work(task, model, datasets, run_dir, config, role, extra_callbacks, echo):
    """A worker other than the chief: trains its share of every step with the others,
    resuming from the chief's backup, and writes nothing; the chief evaluates and exports."""
    from seqtasks import training

    if not (run_dir / "model.keras").exists():
        training.fit(model, datasets, run_dir, config["train"],
                     [*task.callbacks(), *extra_callbacks], verbose=0, chief=False)
    echo(f"{role.name}: training done; the chief evaluates and exports into {run_dir}")
    return RunResult(run_dir, {}, None)
