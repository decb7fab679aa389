"""Where a training step's time goes with ``train.strategy = "multi_worker"`` on this machine.

Starts a cluster of ``--workers`` processes on 127.0.0.1 (each with its own ``TF_CONFIG``)
and, for comparison, one process with the default strategy; each builds the same recipe
(``--recipe``, built-in data, ``--set`` overrides) with the same per-worker batch and
reports, after a warm-up epoch:

* ``step``: the median wall time of a training step (``fit``, one epoch, per-batch times);
* ``all_reduce``: the median time of all-reducing a zero gradient of every trainable
  variable across the workers (what a step adds to the single process: communication and
  waiting for the slower worker), packed as the strategy packs gradients;
* ``examples_per_s``: examples trained per second by the whole cluster.

Usage::

    python benchmarks/multi_worker.py                      # smart_reply defaults, 2 workers
    python benchmarks/multi_worker.py --set model.units=512 --json out.json
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

WORKER = r"""
import json, os, statistics, sys, time
import keras
import seqtasks
from seqtasks import distribute, training

args = json.loads(sys.argv[1])
if args["pin"] is not None:  # one core per process: compute does not share a core
    os.sched_setaffinity(0, {args["pin"]})
strategy_name = "multi_worker" if os.environ.get("TF_CONFIG") else "default"
strategy = distribute.get_strategy(strategy_name)
recipe = seqtasks.get_recipe(args["recipe"])
task = recipe(recipe.default_config([*args["overrides"], f"train.strategy={strategy_name}",
                                     "train.epochs=2", "train.early_stopping_patience=0",
                                     "train.reduce_lr_patience=0"]))
datasets = task.build_datasets()
model = task.build_model()


class Steps(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.times = epoch, []

    def on_train_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1:
            self.times.append(time.perf_counter() - self.start)


steps = Steps()
start = time.perf_counter()
training.fit(model, datasets, args["run_dir"], task.config["train"], [steps], verbose=0,
             chief=distribute.role(strategy_name).chief)
result = {"strategy": strategy_name, "workers": distribute.workers(strategy_name),
          "step_ms": 1000 * statistics.median(steps.times), "steps": len(steps.times),
          "examples": len(task.splits["train"]), "fit_s": time.perf_counter() - start}

if strategy_name == "multi_worker":
    import tensorflow as tf

    shapes = [v.shape for v in model.trainable_variables]

    @tf.function
    def all_reduce():
        def replica():
            grads = [tf.zeros(s) for s in shapes]
            return tf.distribute.get_replica_context().all_reduce("SUM", grads)
        return strategy.run(replica)

    all_reduce()
    times = []
    for _ in range(args["repeats"]):
        t = time.perf_counter()
        all_reduce()
        times.append(time.perf_counter() - t)
    result["all_reduce_ms"] = 1000 * statistics.median(times)
    result["parameters"] = int(sum(v.numpy().size for v in model.trainable_variables))
print("RESULT " + json.dumps(result), flush=True)
"""


def run_processes(envs, payload, pin=False):
    cores = sorted(os.sched_getaffinity(0))
    processes = [subprocess.Popen(
        [sys.executable, "-c", WORKER,
         json.dumps({**payload, "pin": cores[i % len(cores)] if pin else None})],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i, env in enumerate(envs)]
    results = []
    for p in processes:
        out, err = p.communicate()
        if p.returncode != 0:
            sys.exit(f"a benchmark process failed:\n{err[-3000:]}")
        results.append(json.loads(out.split("RESULT ", 1)[1]))
    return results


def main(argv=None):
    from seqtasks.launch import free_ports, tf_configs

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="smart_reply")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", default="/tmp/seqtasks-multi-worker-bench")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    payload = {"recipe": args.recipe, "overrides": args.overrides, "repeats": args.repeats}
    base = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    single = run_processes([base], {**payload, "run_dir": f"{args.out}/{stamp}-single"})[0]
    one_core = run_processes([base], {**payload, "run_dir": f"{args.out}/{stamp}-core"},
                             pin=True)[0]
    cluster = run_processes(
        [{**base, "TF_CONFIG": c} for c in tf_configs(free_ports(args.workers))],
        {**payload, "run_dir": f"{args.out}/{stamp}-cluster"}, pin=True)
    chief = cluster[0]
    rows = {"one process, every core": single, "one process, one core": one_core,
            f"{args.workers} workers, one core each": chief}
    report = {"recipe": args.recipe, "overrides": args.overrides, "rows": rows,
              "workers": cluster}
    print(f"{args.recipe} {' '.join(args.overrides)}; {chief['parameters']:,} parameters; "
          f"{os.cpu_count()} cores")
    print("| | step (ms, median) | steps per epoch | examples/s |")
    print("|---|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['step_ms']:.1f} | {r['steps']} | "
              f"{r['examples'] / r['steps'] * 1000 / r['step_ms']:.0f} |")
    other = chief["step_ms"] - one_core["step_ms"]
    print(f"a cluster step = one core's compute ({one_core['step_ms']:.1f} ms) + "
          f"{other:.1f} ms of communication and waiting; all-reducing every gradient alone "
          f"takes {chief['all_reduce_ms']:.1f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
