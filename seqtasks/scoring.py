"""What scoring a file gives, and the one path that prints and writes it.

:meth:`~seqtasks.recipes.base.Recipe.score` returns a :class:`Scored`; ``seqtasks run`` (on
its test split) and ``seqtasks evaluate`` (on any file, from the export alone) both hand it to
:func:`finish`, so they print the same lines and write the same files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

#: Lines of one sample value shown by :func:`sample_lines` (a generated text can be long).
SAMPLE_LINES = 8


@dataclasses.dataclass
class Scored:
    """The result of scoring examples through the serving signatures.

    ``metrics`` is what ``metrics.json`` holds. ``predictions`` has one entry per scored example
    (or is empty where the score reads the examples as one stream). ``samples`` are a few
    examples shown after the metrics, each an ordered ``{label: text}``. ``figures`` are
    ``{file name: draw(path) -> path}``: the pictures written beside the metrics."""

    metrics: dict
    predictions: list = dataclasses.field(default_factory=list)
    samples: list = dataclasses.field(default_factory=list)
    figures: dict[str, Callable[[Path], Path]] = dataclasses.field(default_factory=dict)


def metrics_line(metrics):
    """``test: name=value, ...`` of the numeric metrics."""
    return "test: " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                for k, v in metrics.items()
                                if isinstance(v, (int, float)) and not isinstance(v, bool))


def sample_lines(samples):
    """The lines that show ``samples``: ``label: text``, labels aligned, a long text cut to
    :data:`SAMPLE_LINES` lines."""
    lines = []
    for sample in samples:
        width = max(map(len, sample)) + 1
        for label, text in sample.items():
            first, *rest = str(text).splitlines() or [""]
            lines.append(f"  {label + ':':<{width}} {first}")
            lines += [f"  {'':<{width}} {line}" for line in rest[:SAMPLE_LINES - 1]]
    return lines


def finish(task, scored, folder, echo=print):
    """Print ``scored`` (the metrics line, then the recipe's :meth:`report`) and write the
    recipe's artifacts into ``folder``; returns the paths written."""
    echo(metrics_line(scored.metrics))
    for line in task.report(scored):
        echo(line)
    paths = task.write_artifacts(folder, scored)
    for path in paths:
        echo(f"wrote: {path}")
    return paths
