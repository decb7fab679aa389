"""The deployed artifact as a library: score a file with an export (``seqtasks evaluate``) and
predict a file in bounded memory (``seqtasks predict --input``).

Both load the exported SavedModel with TensorFlow alone (the artifact TF Serving runs) and the
recipe from the configuration the export carries (``assets.extra/config.toml``), so a file is
read with the same keys (columns, levels...) as the training data was.
"""

import itertools
import json
import os
from pathlib import Path

from seqtasks import config as config_lib
from seqtasks import export as export_lib
from seqtasks import scoring
from seqtasks.errors import ConfigError, ExportError, named
from seqtasks.files import atomic_file, new_run_dir, write_json, write_text
from seqtasks.signatures import call_signature, columns


def resolve_target(target):
    """``(version dir, run dir or None)`` of a run directory or an export directory."""
    target = Path(target)
    if not target.is_dir():
        raise ExportError(f"{target}: no such run or export directory")
    metrics = target / "metrics.json"
    if (target / "config.toml").exists() and not (target / "saved_model.pb").exists():
        if not metrics.exists():
            raise ExportError(f"{target}: this run has not finished (no metrics.json), so it has "
                              "no export yet")
        exported = json.loads(metrics.read_text()).get("export")
        if not exported or not Path(exported).is_dir():
            raise ExportError(f"{target}: its export {exported!r} is missing; pass the export "
                              "directory instead")
        return export_lib.resolve_export(exported), target
    try:
        return export_lib.resolve_export(target), None
    except ExportError:
        raise ExportError(f"{target}: neither a run directory (config.toml + metrics.json) nor a "
                          "seqtasks export (saved_model.pb)") from None


def load_task(version, overrides=()):
    """``(recipe instance, export metadata)`` with the export's configuration and ``data.*``
    overrides (which only change how files are read)."""
    from seqtasks.recipes import get_recipe

    overrides = config_lib.overrides_list(overrides)
    for item in overrides:
        if not (item[0] if isinstance(item, tuple) else str(item)).strip().startswith("data."):
            raise ConfigError(f"{named('--set', 'overrides')} {item!r}: only data.* keys (how "
                              "the file is read) can be changed for a trained model")
    metadata = export_lib.read_metadata(version)
    recipe = get_recipe(metadata["recipe"])
    saved = Path(version) / export_lib.CONFIG_FILE
    if saved.exists():
        _, config = config_lib.load_config(saved, overrides)
    else:  # exports written before the configuration travelled with them
        config = recipe.default_config(overrides)
    return recipe(config), metadata


def load_signatures(version):
    from seqtasks.export import load_saved_model

    return load_saved_model(version).signatures


def evaluate(target, data, overrides=(), output=None, echo=print):
    """Score ``data`` (a file in one of the recipe's formats) with the export's signatures;
    prints and writes what ``seqtasks run`` does for its test split (the report, the plots),
    plus ``metrics.json`` and ``config.toml``, into ``output``; returns the
    :class:`~seqtasks.scoring.Scored`."""
    version, run_dir = resolve_target(target)
    task, metadata = load_task(version, overrides)
    output = Path(output or new_run_dir(f"evaluate-{task.name}"))
    if output.exists() and not output.is_dir():
        raise ConfigError(f"{named('--output', 'output')} {output}: exists and is not a "
                          "directory")
    if not output.parent.is_dir():
        raise ConfigError(f"{named('--output', 'output')} {output}: the folder "
                          f"{output.parent} does not exist")
    # a bad file fails here, before anything is written
    examples = task.reader.read_split(str(data))
    scored = task.score(load_signatures(version), examples,
                        export_lib.load_arrays(version, metadata))
    output.mkdir(exist_ok=True)
    scoring.finish(task, scored, output, echo)  # what `seqtasks run` prints and draws
    write_text(output / "config.toml", config_lib.to_toml(task.config, task.name, task.schema()))
    write_json(output / "metrics.json", {"test": scored.metrics, "data": str(data),
                                         "export": str(version), "run": str(run_dir or "")})
    echo(f"wrote: {output / 'metrics.json'}")
    return scored


def _plain(value):
    """A signature output row as JSON-ready Python values (strings decoded)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _count_inputs(path):
    """Lines in ``path`` (cheap, streamed): the progress bar's total, an upper bound."""
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def predict_file(export_dir, input_path, output_path=None, overrides=(), batch_size=64,
                 progress=True):
    """Run the export over every input of ``input_path``, streaming: ``batch_size`` inputs in
    memory at a time. Writes one JSON object per input (``where`` plus every signature output)
    to ``output_path`` (atomically: whole or not at all), or yields the lines when it is None.
    """
    version = export_lib.resolve_export(export_dir)
    task, _ = load_task(version, overrides)
    if not Path(input_path).is_file():
        raise ConfigError(f"{named('--input', 'input_path')} {input_path}: no such file")
    if output_path is not None:
        folder = Path(output_path).parent
        if not folder.is_dir():
            raise ConfigError(f"{named('--output', 'output_path')} {output_path}: the folder "
                              f"{folder} does not exist")
    inputs = task.reader.prediction_inputs(str(input_path))
    first = list(itertools.islice(inputs, batch_size))  # a malformed file fails before TF loads
    signature = load_signatures(version)["serving_default"]
    lines = _predicted_lines(signature, itertools.chain(first, inputs), batch_size)
    if output_path is None:
        return lines
    import keras

    bar = keras.utils.Progbar(_count_inputs(input_path), unit_name="input",
                              verbose=1 if progress else 0)
    with atomic_file(output_path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        done = 0
        for line in lines:
            f.write(line + "\n")
            done += 1
            if done % batch_size == 0:
                bar.update(done)
        f.flush()
        os.fsync(f.fileno())
    bar.update(done, finalize=True)
    return done


def _predicted_lines(signature, inputs, batch_size):
    import numpy as np

    while True:
        batch = list(itertools.islice(inputs, batch_size))
        if not batch:
            return
        outputs = call_signature(signature, columns([raw for _, raw in batch]), batch[0][0])
        for i, (where, _) in enumerate(batch):
            row = {name: _plain(np.asarray(value[i]).tolist()) for name, value in outputs.items()}
            yield json.dumps({"where": where, **row}, ensure_ascii=False)


class Deployed:
    """An export (or a finished run directory) loaded for Python: :meth:`predict` and
    :meth:`evaluate` run the code of ``seqtasks predict`` and ``seqtasks evaluate``, on the
    SavedModel that TF Serving runs. ``overrides`` (``data.*`` keys only) change how files
    are read.

    Example:
    ```python
    model = seqtasks.load("saved_models/smart_reply")
    model.predict(["hello there"])  # [{"replies": [...], "scores": [...], ...}]
    model.evaluate("test.csv").metrics
    ```
    """

    def __init__(self, target, overrides=()):
        self.version, self.run_dir = resolve_target(target)
        self.overrides = config_lib.overrides_list(overrides)
        self.task, self.metadata = load_task(self.version, self.overrides)
        #: The recipe's name.
        self.recipe = self.task.name
        self._signatures = None

    def __repr__(self):
        return f"<seqtasks.Deployed {self.recipe} {self.version}>"

    @property
    def signatures(self):
        """The SavedModel's signatures, ``{name: concrete function}`` (loaded once)."""
        if self._signatures is None:
            self._signatures = load_signatures(self.version)
        return self._signatures

    def predict(self, inputs, batch_size=64):
        """The ``serving_default`` outputs of each input, as Python values (strings decoded):
        a list of ``{output: value}``. ``inputs``: texts (one string or a list), for
        captioning image bytes or image file paths, for forecasting windows of values."""
        import numpy as np

        if isinstance(inputs, (str, bytes)):
            inputs = [inputs]
        name = self.metadata["input"]
        values = self.task.reader.read_inputs(list(inputs))
        rows = []
        for start in range(0, len(values), batch_size):
            batch = values[start:start + batch_size]
            outputs = call_signature(self.signatures["serving_default"], {name: batch})
            rows += [{key: _plain(np.asarray(value[i]).tolist())
                      for key, value in outputs.items()} for i in range(len(batch))]
        return rows

    def evaluate(self, data, output=None, echo=None):
        """Score ``data`` (a file in one of the recipe's formats) as ``seqtasks evaluate``
        does, writing ``metrics.json`` (and the report's figures) into ``output`` (default: a
        new folder under ``runs/``); returns the :class:`~seqtasks.scoring.Scored`. Prints
        nothing unless ``echo`` (``print``, say) is given."""
        return evaluate(self.run_dir or self.version, data, self.overrides, output,
                        echo or (lambda *_: None))

