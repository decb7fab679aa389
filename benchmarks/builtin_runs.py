"""Wall time, epochs and quality of every recipe's default run on its built-in data.

The time targets that used to be asserted by tests live here: a test checks quality only (a
suite that fails on a slower machine is broken), and this script reports how long each default
run takes on the machine it runs on, with its quality target, as a Markdown table. It exits
with status 1 when a run misses an absolute quality target (the test suite runs the long
captioning and translation runs only with ``pytest --run-long``, so this is their check too).

    python benchmarks/builtin_runs.py                      # every recipe, one after another
    python benchmarks/builtin_runs.py tagging smart_reply  # some of them

Each run is ``seqtasks run <recipe>`` in its own process (a fresh TensorFlow), writing into a
temporary folder; the wall time is that process's, from start to the written export.
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: ``(metric, quality target, time target in seconds)`` of each default run: the quality the
#: shared spec test checks (tests/specs.py; None: a target relative to a baseline, see there)
#: and the wall time the removed ``timed`` tests asserted on a 2-core machine (None: none).
TARGETS = {
    "smart_reply": ("accuracy", 0.90, None),
    "tagging": ("accuracy", 0.95, 180),
    "translation": ("bleu", 90.0, 600),
    "captioning": ("bleu_4", 80.0, 600),
    "language_model": ("bits_per_char", None, 180),
    "forecasting": ("rmse", None, 180),
}


def run(recipe, folder):
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "seqtasks", "run", recipe, "--output", str(folder / "run"),
         "--set", f"export.dir={folder / 'exports'}"],
        capture_output=True, text=True)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"{recipe}: failed\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    metrics = json.loads((folder / "run" / "metrics.json").read_text())
    return seconds, metrics


def main(recipes):
    rows = ["| recipe | metric | value | target | epochs | wall time | time target |",
            "|---|---|---:|---|---:|---:|---:|"]
    missed = []
    for recipe in recipes:
        metric, target, budget = TARGETS[recipe]
        with tempfile.TemporaryDirectory() as folder:
            seconds, metrics = run(recipe, Path(folder))
        value = metrics["test"][metric]
        if target is not None and value < target:
            missed.append(f"{recipe}: {metric} {value} under its target {target}")
        rows.append(f"| {recipe} | {metric} | {value} | "
                    f"{'>= ' + str(target) if target is not None else '(see tests/specs.py)'} | "
                    f"{metrics['train'].get('epochs_run', '')} | {seconds:.0f} s | "
                    f"{str(budget) + ' s' if budget else '-'} |")
        print(rows[-1], flush=True)
    print("\n".join(rows))
    if missed:
        raise SystemExit("missed: " + "; ".join(missed))


if __name__ == "__main__":
    main(sys.argv[1:] or list(TARGETS))
