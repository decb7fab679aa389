"""Tiny trained exports of every recipe, from its spec (tests/specs.py), shared by the contract
and serve tests."""

import contextlib
import fcntl
import os
import shutil

from specs import SPECS

#: serving_default of every recipe: inputs {name: (dtype, shape)} and output names.
SIGNATURES = {name: (spec.inputs, spec.outputs) for name, spec in SPECS.items()}

TINY = {name: list(spec.tiny) for name, spec in SPECS.items()}


def write_test_split(name, task, path):
    """The task's test split written as a file of its recipe; returns the path."""
    return SPECS[name].write_test_split(task, path)


def tiny_task(name, export_dir, count=60, overrides=()):
    """Recipe ``name`` with tiny sizes on its built-in data, validated and tested on the
    first ``count`` examples of those splits: the contract does not depend on their size, and
    scoring takes a fraction of the time. (The training split stays whole: ``seqtasks
    evaluate`` reads it again from the export's configuration for captioning's
    nearest-caption baseline.)"""
    import seqtasks

    recipe = seqtasks.get_recipe(name)
    task = recipe(recipe.default_config([*TINY[name], f"export.dir={export_dir}", *overrides]))
    builtin = task.reader.builtin

    def first(seed):
        return {split: examples if split == "train" else examples[:count]
                for split, examples in builtin(seed).items()}

    task.reader.builtin = first
    return task


def tiny_exports(root, names=None, seed=0):
    """Every recipe (or ``names``) trained one step on its built-in data and exported under
    ``root`` (an ``export.dir``); returns ``{name: version path}``."""
    import keras

    from seqtasks import export

    versions = {}
    for name in names or sorted(TINY):
        task = tiny_task(name, root)
        keras.utils.set_random_seed(seed)
        datasets = task.build_datasets()
        model = task.build_model()
        model.fit(datasets["train"].take(1), verbose=0)
        versions[name] = export.export(task, model)
    return versions


@contextlib.contextmanager
def shared_tiny_export(tmp_path_factory, name):
    """The folder (``<export.dir>/<name>``) where one tiny export of recipe ``name`` is
    shared by every xdist worker of this run, held under a lock while the caller looks at it
    or builds it, so that the contract test's trained export is served by the serve tests
    instead of being built again."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' common folder of this run
    shared = root / "tiny-exports"
    shared.mkdir(exist_ok=True)
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield shared / name
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def publish_tiny_export(version, folder):
    """Copy an export's recipe folder (``version``'s parent) to ``folder`` whole: written
    beside it, then renamed."""
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(version.parent, staging)
    staging.rename(folder)
