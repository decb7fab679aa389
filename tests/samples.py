"""Per-recipe test data for the contract test: tiny sizes, and a split written to a file in
one of the recipe's formats (the file ``seqtasks evaluate`` reads)."""

import contextlib
import fcntl
import os
import shutil

from helpers import TINY_MODEL, write_csv

#: serving_default of every recipe: inputs {name: (dtype, shape)} and output names.
SIGNATURES = {
    "captioning": ({"image": ("string", [None])}, {"caption"}),
    "forecasting": ({"values": ("float32", [None, 30])}, {"forecast"}),
    "language_model": ({"prompt": ("string", [None])}, {"text"}),
    "smart_reply": ({"text": ("string", [None])}, {"replies", "scores", "labels", "abstained"}),
    "tagging": ({"text": ("string", [None])}, {"tokens", "tags", "lengths"}),
    "translation": ({"text": ("string", [None])}, {"translation", "score"}),
}

TINY = {
    "smart_reply": TINY_MODEL,
    "tagging": [*TINY_MODEL, "model.char_embedding_dim=8", "model.char_units=8"],
    "translation": [*TINY_MODEL, "decode.beam_width=2", "decode.max_length=12"],
    "captioning": [*TINY_MODEL, "data.image_size=32", "decode.beam_width=2"],
    "language_model": [*TINY_MODEL, "train.bptt=20", "generate.length=8"],
    "forecasting": [o for o in TINY_MODEL if not o.startswith("model.embedding_dim")],
}


def _smart_reply(examples, path):
    return write_csv(path / "test.csv", [(e.input, e.target) for e in examples])


def _tagging(examples, path):
    lines = []
    for e in examples:
        lines += [f"{i}\t{token}\t_\t{tag}\t_\t_\t0\tdep\t_\t_"
                  for i, (token, tag) in enumerate(zip(e.input, e.target), 1)]
        lines.append("")
    (path / "test.conllu").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path / "test.conllu"


def _translation(examples, path):
    (path / "test.tsv").write_text("".join(f"{e.input}\t{e.target}\n" for e in examples),
                                   encoding="utf-8")
    return path / "test.tsv"


def _captioning(examples, path):
    (path / "Images").mkdir()
    rows = ["image,caption"]
    for i, e in enumerate(examples):
        (path / "Images" / f"{i}.png").write_bytes(e.input)
        rows += [f"{i}.png,{caption}" for caption in e.target]
    (path / "captions.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path / "captions.txt"


def _language_model(examples, path):
    (path / "test.txt").write_text("".join(e.input for e in examples), encoding="utf-8")
    return path / "test.txt"


def _forecasting(task, path):
    """The whole built-in series: evaluate scores its test range, as the run did."""
    from seqtasks.data.builtin import forecasting as builtin

    dates, values = builtin.generate(seed=task.config["train"]["seed"])
    rows = [f"{d.isoformat()},{float(v)!r}" for d, v in zip(dates, values)]  # exact float32
    (path / "series.csv").write_text("date,value\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path / "series.csv"


WRITERS = {"smart_reply": _smart_reply, "tagging": _tagging, "translation": _translation,
           "captioning": _captioning, "language_model": _language_model}


def write_test_split(name, task, path):
    """The task's test split written as a file of its recipe; returns the path."""
    if name == "forecasting":
        return _forecasting(task, path)
    return WRITERS[name](task.splits["test"], path)


def tiny_task(name, export_dir, count=60, overrides=()):
    """Recipe ``name`` with tiny sizes on its built-in data, validated and tested on the
    first ``count`` examples of those splits: the contract does not depend on their size, and
    scoring takes a fraction of the time. (The training split stays whole: ``seqtasks
    evaluate`` reads it again from the export's configuration for captioning's
    nearest-caption baseline.)"""
    import seqtasks

    recipe = seqtasks.get_recipe(name)
    task = recipe(recipe.default_config([*TINY[name], f"export.dir={export_dir}", *overrides]))
    builtin = task.builtin_splits

    def first(seed):
        return {split: examples if split == "train" else examples[:count]
                for split, examples in builtin(seed).items()}

    task.builtin_splits = first
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
