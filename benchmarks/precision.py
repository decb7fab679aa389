"""float32 against mixed_bfloat16 (``train.precision``) on real data, side by side in one run.

For each task (smart_reply on CLINC150, tagging on UD English EWT, translation on Multi30k)
the same configuration (``benchmarks/<task>.toml``, the same seed) is trained once in each
precision, one right after the other in this process, and the script reports the median
wall time of an epoch (the first epoch, which traces the graphs, left out), the epochs run
and the test metrics. Translation is cut to ``--translation-epochs`` (6 unless given); the
other two train to early stopping.

Each run lives in ``OUT/<task>-<precision>``; a finished run is not trained again (its
epoch times are kept in ``epoch_seconds.json``), so an interrupted benchmark resumes.

Usage::

    python benchmarks/precision.py ../shared/datasets runs/precision
    python benchmarks/precision.py ../shared/datasets runs/precision --only clinc150
    python benchmarks/precision.py ../shared/datasets runs/precision-timing --only clinc150 \
        --set train.epochs=4      # epoch times only
"""

import argparse
import csv
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PRECISIONS = ("float32", "mixed_bfloat16")
HERE = Path(__file__).parent


def clinc150(datasets, work):
    """CSV splits written from CLINC150's data_full.json (in-scope intents only)."""
    source = json.loads((datasets / "smart_reply/clinc150/data_full.json").read_text())
    for split in ("train", "val", "test"):
        with open(work / f"{split}.csv", "w", newline="") as f:
            csv.writer(f).writerows([("text", "label"), *source[split]])
    return [f"data.train={work / 'train.csv'}", f"data.validation={work / 'val.csv'}",
            f"data.test={work / 'test.csv'}"]


def ud_ewt(datasets, work):
    src = datasets / "tagging/ud_english_ewt"
    return [f"data.{split}={src / f'en_ewt-ud-{name}.conllu'}"
            for split, name in (("train", "train"), ("validation", "dev"), ("test", "test"))]


def multi30k(datasets, work):
    src = datasets / "translation/multi30k_en_de"
    return [f'data.{split}=["{src / f"{name}.de.gz"}", "{src / f"{name}.en.gz"}"]'
            for split, name in (("train", "train"), ("validation", "val"),
                                ("test", "test_2016_flickr"))]


#: task -> (recipe file, data overrides, the test metrics reported)
TASKS = {
    "clinc150": ("clinc150.toml", clinc150, ("accuracy",)),
    "ud_ewt": ("ud_ewt.toml", ud_ewt, ("accuracy",)),
    "multi30k": ("multi30k.toml", multi30k, ("bleu", "chrf")),
}


def epoch_timer(path):
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Appends each epoch's wall time to ``path`` (kept across a resumed run)."""

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times = json.loads(path.read_text()) if path.exists() else []
            times.append(round(time.perf_counter() - self.start, 3))
            path.write_text(json.dumps(times))

    return EpochTimer()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", type=Path, help="the shared datasets folder")
    parser.add_argument("out", type=Path, help="folder for the runs and results.json")
    parser.add_argument("--only", choices=sorted(TASKS), action="append")
    parser.add_argument("--translation-epochs", type=int, default=6)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE", help="an override for every run")
    args = parser.parse_args(argv)

    import seqtasks

    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for task in args.only or list(TASKS):
        recipe_file, data, reported = TASKS[task]
        work = args.out / f"{task}-data"
        work.mkdir(exist_ok=True)
        overrides = data(args.datasets, work)
        if task == "multi30k":
            overrides.append(f"train.epochs={args.translation_epochs}")
        overrides += args.overrides
        for precision in PRECISIONS:
            run_dir = args.out / f"{task}-{precision}"
            run_dir.mkdir(exist_ok=True)
            times_path = run_dir / "epoch_seconds.json"
            start = time.perf_counter()
            result = seqtasks.run(str(HERE / recipe_file),
                                  [*overrides, f"train.precision={precision}"],
                                  output=run_dir, extra_callbacks=[epoch_timer(times_path)],
                                  verbose=2)
            times = json.loads(times_path.read_text())
            row = {"task": task, "precision": precision, "epochs": len(times),
                   "median_epoch_s": round(statistics.median(times[1:] or times), 2),
                   "run_s": round(time.perf_counter() - start, 1),
                   **{m: result.metrics["test"][m] for m in reported}}
            rows.append(row)
            print(json.dumps(row), flush=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=1))
    print("| task | precision | epochs | median epoch (s) | test |")
    print("|---|---|---:|---:|---|")
    for row in rows:
        metrics = ", ".join(f"{k} {row[k]:.4g}" for k in TASKS[row["task"]][2])
        print(f"| {row['task']} | {row['precision']} | {row['epochs']} | "
              f"{row['median_epoch_s']} | {metrics} |")


if __name__ == "__main__":
    sys.exit(main())
