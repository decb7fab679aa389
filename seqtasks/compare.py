"""``seqtasks compare``: train one recipe with several recurrent cells on the same data and seed.

Each cell gets its own run directory under the comparison's directory (so an interrupted
comparison resumes cell by cell), and the table of test metrics and training times is written
to ``comparison.json`` and ``comparison.md`` beside them.
"""

import json
from pathlib import Path

from seqtasks import config as config_lib
from seqtasks.errors import ConfigError
from seqtasks.files import new_run_dir, write_json, write_text


def parse_cells(text):
    """``"elman,lstm"`` -> ``["elman", "lstm"]``, every name checked against the cells."""
    known = config_lib.COMMON["model"]["cell"].choices
    cells = [c.strip() for c in text.split(",") if c.strip()]
    if not cells:
        raise ConfigError("--cells: expected a comma-separated list such as elman,lstm,gru")
    for cell in cells:
        if cell not in known:
            raise ConfigError(f"--cells: unknown cell {cell!r}; expected some of "
                              f"{', '.join(known)}")
    if len(set(cells)) != len(cells):
        raise ConfigError(f"--cells: {text!r} names a cell twice")
    return cells


def table(rows):
    """Markdown table of ``rows`` (dicts with the same keys)."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(f"{row[k]:.4f}" if isinstance(row[k], float) else
                                       str(row[k]) for k in keys) + " |")
    return "\n".join(lines)


def compare(recipe, cells, overrides=(), output=None, echo=print, verbose=None):
    """Run ``recipe`` once per cell (``model.cell``); returns the rows of the table."""
    from seqtasks.runner import run

    if any(o.split("=", 1)[0].strip() == "model.cell" for o in overrides):
        raise ConfigError("--set model.cell: the cells come from --cells in a comparison")
    recipe_cls, _ = config_lib.load_config(recipe, overrides)  # config errors before training
    root = Path(output or new_run_dir(f"compare-{recipe_cls.name}"))
    rows = []
    for cell in cells:
        echo(f"== {cell}")
        result = run(recipe, [*overrides, f"model.cell={cell}"], output=root / cell,
                     echo=echo, verbose=verbose)
        test = {k: v for k, v in result.metrics["test"].items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)}
        seconds = result.metrics.get("train", {}).get("seconds")
        rows.append({"cell": cell, **test, "train_seconds": seconds,
                     "epochs": result.metrics.get("train", {}).get("epochs_run")})
    write_json(root / "comparison.json", {"recipe": recipe_cls.name, "rows": rows})
    text = table(rows)
    write_text(root / "comparison.md", text + "\n")
    echo(text)
    echo(f"comparison: {root / 'comparison.md'}")
    return rows, root


def load_rows(path):
    return json.loads(Path(path).read_text())["rows"]
