"""Peak memory of ``seqtasks predict --input`` on large files: bounded, not growing with the file.

Trains a tiny smart_reply model (one epoch on built-in data), writes CSV files of 10k and 100k
messages, runs ``seqtasks predict EXPORT --input FILE --output FILE.jsonl`` on each in its own
process and reports the process's peak resident memory (ru_maxrss) and time.

    python benchmarks/predict_memory.py [--lines 10000,100000] [--workdir /tmp/predict-memory]
"""

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path


def peak_rss_of(command):
    """``(peak RSS in MiB, seconds)`` of a command run as a child process."""
    start = time.monotonic()
    pid = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).pid
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed with status {status}")
    return usage.ru_maxrss / 1024, time.monotonic() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", default="10000,100000")
    parser.add_argument("--workdir", default="/tmp/predict-memory")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    seqtasks = [sys.executable, "-m", "seqtasks"]
    env_run = [*seqtasks, "run", "smart_reply", "--set", "train.epochs=1", "--set",
               f"export.dir={work / 'exports'}", "--output", str(work / "run")]
    subprocess.run(env_run, check=True, stdout=subprocess.DEVNULL)
    from seqtasks.recipes.smart_reply import builtin as builtin

    messages = [text for text, _ in builtin.generate(5000, seed=7)]
    rng = random.Random(0)
    rows = []
    for count in (int(n) for n in args.lines.split(",")):
        path = work / f"messages-{count}.csv"
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text"])
            writer.writerows([rng.choice(messages)] for _ in range(count))
        out = work / f"predictions-{count}.jsonl"
        mib, seconds = peak_rss_of([*seqtasks, "predict", str(work / "exports" / "smart_reply"),
                                    "--input", str(path), "--output", str(out)])
        written = sum(1 for _ in open(out))
        rows.append({"lines": count, "peak_rss_mib": round(mib, 1), "seconds": round(seconds, 1),
                     "input_mib": round(path.stat().st_size / 2**20, 1),
                     "output_mib": round(out.stat().st_size / 2**20, 1), "written": written})
        print(json.dumps(rows[-1]))
    baseline, _ = peak_rss_of([sys.executable, "-c", "import tensorflow, keras"])
    print(json.dumps({"python_with_tensorflow_only_peak_rss_mib": round(baseline, 1)}))


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
