"""Data at any size: time to the first training step, input-pipeline throughput and peak
memory of ``seqtasks run`` as the training corpus grows.

It writes the corpora itself (under ``--work``, reused by later runs): smart_reply messages
(CSV, 150 intents, 4-20 words), tagging sentences (CoNLL columns), translation pairs (TSV),
language-model text and captioning examples (the Flickr8k layout: 256 generated images, five
captions per example); each with fixed-size validation and test files. For every recipe and
size it starts fresh processes and measures:

* ``first_step_s``: from the command's start (before Python imports TensorFlow) to the first
  training step, through ``seqtasks.run`` with the recipe's defaults;
* ``step_examples_per_s``: training examples per second over steps 20-120 of that run;
* ``pipeline_examples_per_s``: the input pipeline alone (``data.cache = "none"``: every
  example parsed and encoded), batched examples per second over up to 200,000 examples,
  read inside the graph as training reads it (``Dataset.reduce``; a second pass, the first
  warming up);
* ``peak_rss_mib``: VmHWM of the training process at step 120;

and, with ``--workers 2``, the same for a 2-worker cluster (``train.strategy =
"multi_worker"``, one process per worker on 127.0.0.1): each worker's peak RSS and time to
its first step; then, one process at a time (nothing else running), a whole epoch of the
training input read alone (``data.cache = "none"``) by one process and by each worker of
the cluster (its own share): ``read_epoch_s``, ``read_examples`` and ``read_peak_rss_mib``.

Usage::

    python benchmarks/data_scale.py --recipes smart_reply --sizes 100000,1000000
    python benchmarks/data_scale.py --recipes smart_reply --sizes 1000000 --workers 2
    python benchmarks/data_scale.py --json runs/data_scale/results.json    # all, 100k-10M
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HELD_OUT = 3000
WARMUP, STEPS = 20, 100
PIPELINE_EXAMPLES = 200_000


# ----- corpora ------------------------------------------------------------------------------
def _vocabulary(rng, size, prefix):
    return [f"{prefix}{i}" for i in range(size)]


def _messages(count, seed):
    """``(text, label)``: 150 intents, each with its own favourite words among 5,000."""
    rng = random.Random(seed)
    words = _vocabulary(rng, 5000, "w")
    intents = [(f"intent_{i}", rng.sample(words, 40)) for i in range(150)]
    for _ in range(count):
        label, own = intents[rng.randrange(150)]
        size = rng.randint(4, 20)
        yield " ".join(rng.choice(own) if rng.random() < 0.6 else rng.choice(words)
                       for _ in range(size)), label


def _sentences(count, seed):
    """Tagged sentences: a word's tag is mostly fixed by the word, sometimes by its left
    neighbour's tag."""
    rng = random.Random(seed)
    words = _vocabulary(rng, 20000, "t")
    tags = ["NOUN", "VERB", "ADJ", "DET", "ADP", "PRON", "ADV", "PUNCT", "NUM", "PROPN"]
    own = {w: rng.choice(tags) for w in words}
    for _ in range(count):
        sentence, previous = [], "PUNCT"
        for _ in range(rng.randint(5, 25)):
            word = rng.choice(words)
            tag = own[word] if previous != "DET" else "NOUN"
            sentence.append((word, tag))
            previous = tag
        yield sentence


def _pairs(count, seed):
    """``(source, target)``: a word-for-word dictionary with adjective-noun swaps."""
    rng = random.Random(seed)
    source = _vocabulary(rng, 8000, "s")
    target = {w: f"e{i}" for i, w in enumerate(source)}
    for _ in range(count):
        words = [rng.choice(source) for _ in range(rng.randint(4, 20))]
        out = [target[w] for w in words]
        for i in range(0, len(out) - 1, 3):
            out[i], out[i + 1] = out[i + 1], out[i]
        yield " ".join(words) + " .", " ".join(out) + " ."


def _write_smart_reply(path, count, seed):
    import csv

    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("text", "label"))
        writer.writerows(_messages(count, seed))


def _write_tagging(path, count, seed):
    with open(path, "w") as f:
        for sentence in _sentences(count, seed):
            f.writelines(f"{word} {tag}\n" for word, tag in sentence)
            f.write("\n")


def _write_translation(path, count, seed):
    with open(path, "w") as f:
        f.writelines(f"{s}\t{t}\n" for s, t in _pairs(count, seed))


def _write_language_model(path, count, seed):
    with open(path, "w") as f:
        f.writelines(f"{s}\n" for s, _ in _pairs(count, seed))


#: Distinct images of the captioning corpora (an example names one of them: the images are
#: read and decoded for every example, as they would be if all were different files).
CAPTION_IMAGES = 256


def _write_captioning(path, count, seed):
    """The Flickr8k layout: ``Images/`` (CAPTION_IMAGES generated PNGs, written once) and
    ``image,caption`` lines, five captions of 5-15 words per example, consecutive examples
    naming different images; words from a 3,000-word vocabulary."""
    import tensorflow as tf

    from seqtasks.recipes.captioning import builtin as builtin

    images = Path(path).parent / "Images"
    if not images.exists():
        images.mkdir()
        for i, (image, _) in enumerate(builtin.generate(CAPTION_IMAGES, seed=7, size=64)):
            (images / f"img{i}.png").write_bytes(tf.io.encode_png(image).numpy())
    rng = random.Random(seed)
    words = _vocabulary(rng, 3000, "c")
    with open(path, "w") as f:
        f.write("image,caption\n")
        for i in range(count):
            name = f"img{(i * 7 + rng.randrange(2)) % CAPTION_IMAGES}.png"
            f.writelines(f"{name},{' '.join(rng.choices(words, k=rng.randint(5, 15)))} .\n"
                         for _ in range(5))


CORPORA = {  # recipe: (writer, suffix, extra overrides)
    "smart_reply": (_write_smart_reply, ".csv", []),
    "tagging": (_write_tagging, ".conll", []),
    "translation": (_write_translation, ".tsv", []),
    "language_model": (_write_language_model, ".txt", ["data.tokenizer=word"]),
    "captioning": (_write_captioning, ".txt", []),
}


def corpus(work, recipe, size):
    """``{split: path}`` of ``recipe``'s corpus with ``size`` training examples (written once)."""
    write, suffix, _ = CORPORA[recipe]
    folder = Path(work) / "corpora" / recipe
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"train": folder / f"train-{size}{suffix}", "validation": folder / f"valid{suffix}",
             "test": folder / f"test{suffix}"}
    for split, count, seed in (("train", size, 1), ("validation", HELD_OUT, 2),
                               ("test", HELD_OUT, 3)):
        if not paths[split].exists():
            print(f"writing {paths[split]} ({count:,} examples)", file=sys.stderr, flush=True)
            with tempfile.NamedTemporaryFile("w", dir=folder, delete=False) as tmp:
                pass
            write(tmp.name, count, seed)
            os.replace(tmp.name, paths[split])
    return paths


# ----- the measured processes ---------------------------------------------------------------
def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def child_train(args):
    """``seqtasks.run`` with a callback that measures the first step and the step rate."""
    import keras

    import seqtasks

    start = float(os.environ["DATA_SCALE_T0"])
    result = {}

    class Probe(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0 and "first_step_s" not in result:
                result["first_step_s"] = round(time.time() - start, 2)
            if batch == WARMUP:
                self.t = time.time()

        def on_train_batch_end(self, batch, logs=None):
            if batch == WARMUP + STEPS:
                seconds = time.time() - self.t
                result["step_examples_per_s"] = round(
                    STEPS * args["batch_size"] / seconds, 1)
                result["peak_rss_mib"] = round(peak_rss_mib(), 1)
                Path(args["out"]).write_text(json.dumps(result))
                os._exit(0)

    seqtasks.run(args["recipe"], args["overrides"], output=args["output"],
                 extra_callbacks=[Probe()], verbose=0, echo=lambda line: None)
    raise SystemExit("training ended before the measured steps")


def _examples(count, batch):
    """``Dataset.reduce`` step counting the examples of ``batch``."""
    import tensorflow as tf

    return count + tf.shape(tf.nest.flatten(batch)[0], out_type=tf.int64)[0]


def child_pipeline(args):
    """The training input pipeline alone, every example parsed and encoded."""
    import tensorflow as tf

    import seqtasks

    recipe = seqtasks.get_recipe(args["recipe"])
    task = recipe(recipe.default_config([*args["overrides"], "data.cache=none"]))
    datasets = task.build_datasets()
    batches = datasets["train"].take(PIPELINE_EXAMPLES // args["batch_size"])
    # read in the graph, as Keras's training loop reads it (a Python loop over the batches
    # adds 2-3 ms of eager work per batch, and its rate varied 2x from process to process);
    # the first pass warms up (traces the pipeline's functions, fills the file cache)
    batches.reduce(tf.constant(0, tf.int64), _examples)
    start = time.time()
    count = int(batches.reduce(tf.constant(0, tf.int64), _examples))
    seconds = time.time() - start
    Path(args["out"]).write_text(json.dumps({
        "pipeline_examples_per_s": round(count / seconds, 1),
        "pipeline_peak_rss_mib": round(peak_rss_mib(), 1)}))


def child_read(args):
    """One epoch of the training input alone (this process's share under ``multi_worker``),
    every example parsed and encoded: its time, examples and peak RSS."""
    import tensorflow as tf

    import seqtasks

    recipe = seqtasks.get_recipe(args["recipe"])
    task = recipe(recipe.default_config([*args["overrides"], "data.cache=none"]))
    start = time.time()
    datasets = task.build_datasets()
    adapted = time.time()
    count = int(datasets["train"].reduce(tf.constant(0, tf.int64), _examples))
    Path(args["out"]).write_text(json.dumps({
        "adapt_s": round(adapted - start, 1), "read_epoch_s": round(time.time() - adapted, 1),
        "read_examples": count, "read_peak_rss_mib": round(peak_rss_mib(), 1)}))


def spawn(mode, args, env=None):
    out = Path(tempfile.mkdtemp()) / "out.json"
    payload = json.dumps({**args, "out": str(out)})
    process_env = {**os.environ, **(env or {}), "DATA_SCALE_T0": repr(time.time())}
    proc = subprocess.Popen([sys.executable, __file__, "--child", mode, payload],
                            env=process_env, stderr=subprocess.PIPE, text=True)
    return proc, out


def finish(proc, out):
    _, err = proc.communicate()
    if not out.exists():
        raise SystemExit(f"child failed ({proc.returncode}):\n{err[-3000:]}")
    return json.loads(out.read_text())


def measure(work, recipe, size, workers=1, pipeline=True):
    paths = corpus(work, recipe, size)
    overrides = [f"data.{s}={p}" for s, p in paths.items()] + CORPORA[recipe][2] + [
        "train.epochs=1", f"export.dir={Path(work) / 'exports'}"]
    import seqtasks

    config = seqtasks.get_recipe(recipe).default_config(overrides)
    base = {"recipe": recipe, "overrides": overrides,
            "batch_size": config["train"]["batch_size"]}
    row = {"recipe": recipe, "examples": size, "workers": workers}
    if workers == 1 and pipeline:
        row.update(finish(*spawn("pipeline", base)))
    with tempfile.TemporaryDirectory(dir=work) as output:
        if workers == 1:
            row.update(finish(*spawn("train", {**base, "output": output})))
        else:
            from seqtasks.launch import free_ports, tf_configs

            strategy = {**base, "output": output,
                        "overrides": [*overrides, "train.strategy=multi_worker"]}
            running = [spawn("train", strategy, {"TF_CONFIG": tf_config})
                       for tf_config in tf_configs(free_ports(workers))]
            row["per_worker"] = [finish(*r) for r in running]
            # reading alone, one process at a time: the whole set, then each worker's share
            row["read_one_process"] = finish(*spawn("read", base))
            for worker, tf_config in zip(row["per_worker"],
                                         tf_configs(free_ports(workers))):
                worker.update(finish(*spawn("read", strategy, {"TF_CONFIG": tf_config})))
    print(json.dumps(row), flush=True)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", default=",".join(CORPORA))
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--work", default="runs/data_scale")
    parser.add_argument("--json", help="append the rows to this JSON Lines file")
    parser.add_argument("--no-pipeline", action="store_true",
                        help="skip the input-pipeline measurement (its own adaptation pass)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, payload = args.child
        children = {"train": child_train, "pipeline": child_pipeline, "read": child_read}
        return children[mode](json.loads(payload))
    Path(args.work).mkdir(parents=True, exist_ok=True)
    for recipe in args.recipes.split(","):
        for size in map(int, args.sizes.split(",")):
            row = measure(args.work, recipe, size, args.workers, not args.no_pipeline)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
