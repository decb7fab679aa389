"""Per-recipe test data for the contract test: tiny sizes, and a split written to a file in
one of the recipe's formats (the file ``seqtasks evaluate`` reads)."""

from helpers import TINY_MODEL, write_csv

TINY = {
    "smart_reply": TINY_MODEL,
    "tagging": [*TINY_MODEL, "model.char_embedding_dim=8", "model.char_units=8"],
    "translation": [*TINY_MODEL, "decode.beam_width=2", "decode.max_length=12"],
    "captioning": [*TINY_MODEL, "data.image_size=32", "decode.beam_width=2"],
    "language_model": [*TINY_MODEL, "train.bptt=20", "generate.length=8"],
    "forecasting": [*TINY_MODEL],
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


def tiny_exports(root, names=None, seed=0):
    """Every recipe (or ``names``) trained one step on its built-in data and exported under
    ``root`` (an ``export.dir``); returns ``{name: version path}``."""
    import keras

    import seqtasks
    from seqtasks import export

    versions = {}
    for name in names or sorted(TINY):
        recipe = seqtasks.get_recipe(name)
        task = recipe(recipe.default_config([*TINY[name], f"export.dir={root}"]))
        keras.utils.set_random_seed(seed)
        datasets = task.build_datasets()
        model = task.build_model()
        model.fit(datasets["train"].take(1), verbose=0)
        versions[name] = export.export(task, model)
    return versions
