"""ElmanRNN against SimpleRNN with ``return_sequences=False``, as a model trains it.

The model is ``Input -> layer(units) -> Dense(1)``: the recurrent layer returns only its last
state. Training is Keras's ``train_on_batch`` (SGD, MSE); inference is ``predict_on_batch``.
Every contender gets the same inputs; after one warm-up call each, the repeats time all of
them one after the other, in an order rotated from repeat to repeat, so that background load
hits them alike; the median milliseconds per call are reported, with the ratios to
SimpleRNN. ``torch.nn.RNN`` (+ ``nn.Linear``, SGD, MSE) is a column when torch imports
(``pip install -e ".[bench]"``; it runs with as many threads as TensorFlow).

Before timing, the script checks that ElmanRNN and SimpleRNN given the same weights predict
the same values (1e-4).

Usage::

    python benchmarks/rnn_last_state.py                 # both shapes, ~3 minutes on 2 cores
    python benchmarks/rnn_last_state.py --quick         # tiny sizes
    python benchmarks/rnn_last_state.py --json benchmarks/results/rnn_last_state.json
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from seqtasks.layers import ElmanRNN  # noqa: E402

try:  # optional column
    import torch
except Exception:  # pragma: no cover - torch is optional
    torch = None

SHAPES = [(64, 50, 128, 256), (32, 200, 64, 128)]  # (batch, steps, input_dim, units)
QUICK = [(8, 10, 8, 16)]


def keras_model(layer, shape):
    batch, steps, features, units = shape
    inputs = keras.Input((steps, features))
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse")
    return model


def contenders(shape, use_torch):
    batch, steps, features, units = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, steps, features)).astype("float32")
    y = rng.standard_normal((batch, 1)).astype("float32")
    models = {
        "ElmanRNN": keras_model(ElmanRNN(units), shape),
        "ElmanRNN(jit_loop)": keras_model(ElmanRNN(units, jit_loop=True), shape),
        "SimpleRNN": keras_model(keras.layers.SimpleRNN(units), shape),
    }
    # the same weights everywhere: SimpleRNN's kernel and recurrent kernel stacked are W
    simple = models["SimpleRNN"].get_weights()
    stacked = [np.concatenate([simple[0], simple[1]]), simple[2], simple[3], simple[4]]
    for name in ("ElmanRNN", "ElmanRNN(jit_loop)"):
        models[name].set_weights(stacked)
        gap = np.abs(models[name].predict_on_batch(x) - models["SimpleRNN"].predict_on_batch(x))
        if gap.max() > 1e-4:
            sys.exit(f"{name} and SimpleRNN differ by {gap.max():.2e} with the same weights")
    tasks = {}
    for name, model in models.items():
        tasks[name] = (lambda m=model: m.train_on_batch(x, y),
                       lambda m=model: m.predict_on_batch(x))
    if use_torch and torch is not None:
        torch.set_num_threads(len(os.sched_getaffinity(0)))
        rnn = torch.nn.RNN(features, units, batch_first=True)
        head = torch.nn.Linear(units, 1)
        params = list(rnn.parameters()) + list(head.parameters())
        optimizer = torch.optim.SGD(params, lr=1e-3)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def train():
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(head(rnn(tx)[1][0]), ty)
            loss.backward()
            optimizer.step()

        def infer():
            with torch.no_grad():
                return head(rnn(tx)[1][0]).numpy()

        tasks["torch.nn.RNN"] = (train, infer)
    return tasks


def time_call(fn, seconds):
    """Milliseconds per call of ``fn``, over back-to-back calls for about ``seconds``."""
    start, calls = time.perf_counter(), 0
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return 1000 * elapsed / calls


def bench(shape, repeats, seconds, use_torch):
    tasks = contenders(shape, use_torch)
    for train, infer in tasks.values():  # trace and warm up
        train(), infer(), train(), infer()
    names = list(tasks)
    samples = {(n, k): [] for n in names for k in ("train", "infer")}
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            for kind, fn in zip(("train", "infer"), tasks[name]):
                samples[name, kind].append(time_call(fn, seconds))
    return {name: {kind: statistics.median(samples[name, kind]) for kind in ("train", "infer")}
            for name in names}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=0.5, help="per timing sample")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    shapes = QUICK if args.quick else SHAPES
    results = {}
    print("| shape (B, T, D, U) | layer | train ms | infer ms | train vs SimpleRNN | "
          "infer vs SimpleRNN |")
    print("|---|---|---:|---:|---:|---:|")
    for shape in shapes:
        timing = bench(shape, 3 if args.quick else args.repeats, 0.1 if args.quick else
                       args.seconds, not args.no_torch)
        results[str(shape)] = timing
        base = timing["SimpleRNN"]
        for name, t in timing.items():
            print(f"| {shape} | {name} | {t['train']:.2f} | {t['infer']:.2f} | "
                  f"{base['train'] / t['train']:.2f}x | {base['infer'] / t['infer']:.2f}x |",
                  flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load_average": os.getloadavg(), "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
