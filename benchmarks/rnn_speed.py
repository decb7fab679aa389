"""Speed of ``seqtasks.layers.ElmanRNN`` against ``keras.layers.SimpleRNN`` and friends.

Measures, in one process, training and inference throughput (tokens/s = batch*steps/s) of

1. ``seqtasks.layers.ElmanRNN(units)``
2. ``keras.layers.SimpleRNN(units)``
3. ``keras.layers.RNN(NaiveElmanCell(units))``: the textbook cell, ``tanh(concat([x, h]) @ W + b)``
   computed step by step
4. ``torch.nn.RNN`` (only when torch can be imported)

Training is one SGD step on an MSE loss of the whole output sequence inside a
``tf.function(jit_compile=False)``; inference is the forward pass in a ``tf.function``. Every
contender is warmed up (traced) first; then each repeat times all contenders one after the
other (in an order rotated from repeat to repeat), so background load on a shared machine hits
all of them alike. The median over repeats is reported.

Before timing, the script checks that ElmanRNN, SimpleRNN and the naive cell given the same
weights produce the same outputs and gradients, and exits with an error if any differs by more
than ``--tolerance`` (1e-4).

Usage::

    python benchmarks/rnn_speed.py                        # full sizes, ~2-4 minutes on 2 cores
    python benchmarks/rnn_speed.py --quick                # tiny sizes, < 1 minute
    python benchmarks/rnn_speed.py --repeats 15 --json benchmarks/results/rnn_speed.json
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from seqtasks.layers import ElmanRNN  # noqa: E402

try:  # optional column
    import torch
except Exception:  # pragma: no cover - torch is optional
    torch = None

FULL_SHAPES = [  # (batch, steps, input_dim, units)
    (64, 50, 128, 256),
    (32, 200, 64, 128),
]
QUICK_SHAPES = [
    (8, 10, 8, 16),
    (4, 20, 8, 8),
]
LEARNING_RATE = 1e-3


class NaiveElmanCell(keras.layers.Layer):
    """The textbook Elman cell: ``h_t = tanh(concat([x_t, h_(t-1)]) @ W + b)``, per step."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1] + self.units, self.units), name="kernel",
            initializer="glorot_uniform",
        )
        self.bias = self.add_weight(shape=(self.units,), name="bias", initializer="zeros")

    def call(self, inputs, states):
        h = keras.ops.tanh(
            keras.ops.matmul(keras.ops.concatenate([inputs, states[0]], axis=-1), self.kernel)
            + self.bias
        )
        return h, [h]


# --------------------------------------------------------------------------------------------
# Contenders


class Contender:
    """A name plus ``train()`` and ``infer()`` callables running one step each."""

    def __init__(self, name, train, infer):
        self.name = name
        self.train = train
        self.infer = infer


def keras_contender(name, layer, x, target):
    variables = layer.trainable_variables
    optimizer = keras.optimizers.SGD(LEARNING_RATE)
    optimizer.build(variables)

    @tf.function(jit_compile=False)
    def train_step(x, target):
        with tf.GradientTape() as tape:
            y = layer(x, training=True)
            loss = tf.reduce_mean(tf.square(y - target))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    @tf.function(jit_compile=False)
    def infer_step(x):
        return layer(x, training=False)

    return Contender(
        name,
        train=lambda: train_step(x, target).numpy(),
        infer=lambda: infer_step(x).numpy(),
    )


def torch_contender(name, kernel, recurrent, bias, x_np, target_np):
    rnn = torch.nn.RNN(kernel.shape[0], kernel.shape[1], nonlinearity="tanh", batch_first=True)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(kernel.T.copy()))
        rnn.weight_hh_l0.copy_(torch.from_numpy(recurrent.T.copy()))
        rnn.bias_ih_l0.copy_(torch.from_numpy(bias))
        rnn.bias_hh_l0.zero_()
    x = torch.from_numpy(x_np)
    target = torch.from_numpy(target_np)
    optimizer = torch.optim.SGD(rnn.parameters(), lr=LEARNING_RATE)

    def train():
        optimizer.zero_grad(set_to_none=True)
        y, _ = rnn(x)
        loss = torch.mean(torch.square(y - target))
        loss.backward()
        optimizer.step()
        return loss.item()

    def infer():
        with torch.inference_mode():
            return rnn(x)[0]

    return Contender(name, train, infer), rnn


# --------------------------------------------------------------------------------------------
# Correctness


def build_layers(shape, seed):
    """ElmanRNN, SimpleRNN and the naive RNN, all holding the same weights."""
    batch, steps, dim, units = shape
    keras.utils.set_random_seed(seed)
    simple = keras.layers.SimpleRNN(units, return_sequences=True)
    simple.build((batch, steps, dim))
    kernel, recurrent, bias = [w.numpy() for w in simple.weights]
    # Give the bias non-zero values so that it is tested too.
    bias = np.random.default_rng(seed).normal(0.0, 0.1, size=bias.shape).astype("float32")
    simple.set_weights([kernel, recurrent, bias])
    joined = [np.concatenate([kernel, recurrent], axis=0), bias]
    elman = ElmanRNN(units, return_sequences=True)
    elman.build((batch, steps, dim))
    elman.set_weights(joined)
    naive = keras.layers.RNN(NaiveElmanCell(units), return_sequences=True)
    naive.build((batch, steps, dim))
    naive.set_weights(joined)
    # The same layer with its two time loops compiled by XLA (for fixed input shapes).
    elman_jit = ElmanRNN(units, return_sequences=True, jit_loop=True)
    elman_jit.build((batch, steps, dim))
    elman_jit.set_weights(joined)
    return elman, simple, naive, elman_jit, (kernel, recurrent, bias)


def outputs_and_grads(layer, x, target):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_mean(tf.square(y - target))
    variables = layer.trainable_variables
    grads = tape.gradient(loss, [x] + variables)
    grads = [g.numpy() for g in grads]
    if len(variables) == 3:  # SimpleRNN: kernel, recurrent_kernel, bias -> joined W, b
        grads = [grads[0], np.concatenate([grads[1], grads[2]], axis=0), grads[3]]
    return y.numpy(), dict(zip(["d_inputs", "d_kernel", "d_bias"], grads))


def check_equivalence(shape, seed, tolerance):
    batch, steps, dim, units = shape
    rng = np.random.default_rng(seed + 1)
    x = tf.constant(rng.normal(size=(batch, steps, dim)).astype("float32"))
    target = tf.constant(rng.normal(size=(batch, steps, units)).astype("float32"))
    elman, simple, naive, elman_jit, weights = build_layers(shape, seed)
    ref_y, ref_g = outputs_and_grads(simple, x, target)
    report = {}
    failures = []
    for name, layer in (("ElmanRNN", elman), ("ElmanRNN(jit_loop)", elman_jit),
                        ("naive cell", naive)):
        y, g = outputs_and_grads(layer, x, target)
        diffs = {"outputs": float(np.max(np.abs(y - ref_y)))}
        diffs.update({k: float(np.max(np.abs(g[k] - ref_g[k]))) for k in ref_g})
        report[f"{name} vs SimpleRNN"] = diffs
        failures += [f"{name} {k}: {v:.3g}" for k, v in diffs.items() if not v <= tolerance]
    return report, failures, weights


# --------------------------------------------------------------------------------------------
# Timing


def seconds_per_call(fn, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def interleaved_medians(tasks, repeats, target_seconds):
    """tasks: {key: fn}. Warm up, then time every task once per repeat, rotating the order."""
    calls = {}
    for key, fn in tasks.items():
        fn()  # trace / compile
        fn()
        one = seconds_per_call(fn, 2)
        calls[key] = max(1, int(round(target_seconds / max(one, 1e-7))))
    samples = {key: [] for key in tasks}
    keys = list(tasks)
    for r in range(repeats):
        order = keys[r % len(keys):] + keys[: r % len(keys)]
        for key in order:
            samples[key].append(seconds_per_call(tasks[key], calls[key]))
    return {key: statistics.median(v) for key, v in samples.items()}, samples, calls


def matmul_baselines(shape, repeats, target_seconds, big):
    """GFLOP/s of plain matmuls on this machine, timed interleaved like the RNNs."""
    batch, steps, _, units = shape
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(units, units)))
    w = tf.constant(q.astype("float32"))  # orthogonal: the chain below neither explodes nor dies
    h0 = tf.constant(rng.normal(size=(batch, units)).astype("float32"))
    flat = tf.constant(rng.normal(size=(batch * steps, units)).astype("float32"))
    a = tf.constant(rng.normal(size=(big, big)).astype("float32"))
    b = tf.constant(rng.normal(size=(big, big)).astype("float32"))

    @tf.function(jit_compile=False)
    def chain(h):  # T dependent (B,U)@(U,U) products in a while loop: the RNN's sequential core
        return tf.while_loop(
            lambda t, h: t < steps, lambda t, h: (t + 1, tf.matmul(h, w)), (0, h),
            parallel_iterations=1,
        )[1]

    @tf.function(jit_compile=False)
    def batched(x):  # the same T*B*U*U work as one (B*T,U)@(U,U) product
        return tf.matmul(x, w)

    @tf.function(jit_compile=False)
    def square(a, b):
        return tf.matmul(a, b)

    tasks = {
        f"chain of {steps} ({batch},{units})@({units},{units}) in tf.while_loop":
            (lambda: chain(h0).numpy(), 2 * batch * steps * units * units),
        f"one ({batch * steps},{units})@({units},{units})":
            (lambda: batched(flat).numpy(), 2 * batch * steps * units * units),
        f"({big},{big})@({big},{big})": (lambda: square(a, b).numpy(), 2 * big ** 3),
    }
    medians, _, _ = interleaved_medians({k: f for k, (f, _) in tasks.items()}, repeats,
                                        target_seconds)
    return {k: {"seconds": medians[k], "gflops": tasks[k][1] / medians[k] / 1e9}
            for k in tasks}


def rnn_flops(shape):
    batch, steps, dim, units = shape
    forward = 2 * batch * steps * (dim + units) * units
    return {"infer": forward, "train": 3 * forward}  # backward ~ 2x forward


def bench_shape(shape, args):
    batch, steps, dim, units = shape
    print(f"\n=== batch {batch}, steps {steps}, inputs {dim}, units {units} ===", flush=True)
    use_torch = torch is not None and not args.no_torch
    torch_rnn = None
    rng = np.random.default_rng(args.seed + 2)
    x_np = rng.normal(size=(batch, steps, dim)).astype("float32")
    target_np = rng.normal(size=(batch, steps, units)).astype("float32")

    report, failures, (kernel, recurrent, bias) = check_equivalence(
        shape, args.seed, args.tolerance)
    contenders = []
    if use_torch:
        contender, torch_rnn = torch_contender(
            "torch.nn.RNN", kernel, recurrent, bias, x_np, target_np)
        with torch.no_grad():
            ref = keras.layers.SimpleRNN(units, return_sequences=True)
            ref.build((batch, steps, dim))
            ref.set_weights([kernel, recurrent, bias])
            diff = np.max(np.abs(torch_rnn(torch.from_numpy(x_np))[0].numpy()
                                 - ref(x_np).numpy()))
        report["torch.nn.RNN vs SimpleRNN"] = {"outputs": float(diff)}
    for name, diffs in report.items():
        print(f"  check {name}: " + ", ".join(f"max|diff| {k} {v:.2e}" for k, v in diffs.items()))
    if failures:
        raise SystemExit(
            f"FAIL: layers disagree by more than {args.tolerance} at shape {shape}: "
            + "; ".join(failures))

    x = tf.constant(x_np)
    target = tf.constant(target_np)
    elman, simple, naive, elman_jit, _ = build_layers(shape, args.seed)
    contenders += [
        keras_contender("ElmanRNN", elman, x, target),
        keras_contender("ElmanRNN(jit_loop)", elman_jit, x, target),
        keras_contender("SimpleRNN", simple, x, target),
        keras_contender("RNN(naive cell)", naive, x, target),
    ]
    if use_torch:
        contenders.append(contender)

    tasks = {}
    for c in contenders:
        tasks[(c.name, "train")] = c.train
        tasks[(c.name, "infer")] = c.infer
    medians, samples, calls = interleaved_medians(tasks, args.repeats, args.target_seconds)
    flops = rnn_flops(shape)
    tokens = batch * steps
    results = {}
    for (name, mode), sec in medians.items():
        spread = samples[(name, mode)]
        results.setdefault(name, {})[mode] = {
            "seconds_median": sec,
            "seconds_min": min(spread),
            "seconds_max": max(spread),
            "calls_per_sample": calls[(name, mode)],
            "tokens_per_s": tokens / sec,
            "gflops": flops[mode] / sec / 1e9,
        }
    ratios = {
        mode: results["ElmanRNN"][mode]["tokens_per_s"] / results["SimpleRNN"][mode]["tokens_per_s"]
        for mode in ("train", "infer")
    }
    ratios_jit = {
        mode: results["ElmanRNN(jit_loop)"][mode]["tokens_per_s"]
        / results["SimpleRNN"][mode]["tokens_per_s"]
        for mode in ("train", "infer")
    }
    # Ratios within each repeat (the two were timed close together): their spread shows how
    # much background load moved the comparison.
    paired = {
        mode: [s / e for s, e in zip(samples[("SimpleRNN", mode)], samples[("ElmanRNN", mode)])]
        for mode in ("train", "infer")
    }
    paired = {mode: {"median": statistics.median(v), "min": min(v), "max": max(v)}
              for mode, v in paired.items()}
    print("  ElmanRNN/SimpleRNN: " + ", ".join(
        f"{m} {ratios[m]:.2f}x (per repeat {paired[m]['min']:.2f}-{paired[m]['max']:.2f})"
        for m in ("train", "infer")), flush=True)
    print("  ElmanRNN(jit_loop)/SimpleRNN: " + ", ".join(
        f"{m} {ratios_jit[m]:.2f}x" for m in ("train", "infer")), flush=True)
    matmuls = matmul_baselines(shape, args.repeats, args.target_seconds, args.big_matmul)
    return {
        "shape": dict(zip(["batch", "steps", "input_dim", "units"], shape)),
        "flops_per_call": flops,
        "equivalence_max_abs_diff": report,
        "results": results,
        "ratios_elman_over_simple": ratios,
        "ratios_elman_jit_loop_over_simple": ratios_jit,
        "ratios_elman_over_simple_per_repeat": paired,
        "matmul_gflops": {k: v["gflops"] for k, v in matmuls.items()},
    }


# --------------------------------------------------------------------------------------------
# Report


def markdown(runs, goal_train, goal_infer):
    lines = []
    names = list(runs[0]["results"])
    lines.append("| shape (B, T, D, U) | layer | train tokens/s | infer tokens/s "
                 "| train GFLOP/s | infer GFLOP/s |")
    lines.append("|---|---|---:|---:|---:|---:|")
    for run in runs:
        s = run["shape"]
        label = f"({s['batch']}, {s['steps']}, {s['input_dim']}, {s['units']})"
        for name in names:
            r = run["results"][name]
            lines.append(
                f"| {label} | {name} | {r['train']['tokens_per_s']:,.0f} "
                f"| {r['infer']['tokens_per_s']:,.0f} | {r['train']['gflops']:.1f} "
                f"| {r['infer']['gflops']:.1f} |")
    lines.append("")
    lines.append("| shape (B, T, D, U) | ElmanRNN/SimpleRNN train | ElmanRNN/SimpleRNN infer "
                 f"| goal met (train >= {goal_train:.1f}x, infer >= {goal_infer:.1f}x) |")
    lines.append("|---|---:|---:|---|")
    for run in runs:
        s = run["shape"]
        label = f"({s['batch']}, {s['steps']}, {s['input_dim']}, {s['units']})"
        ra = run["ratios_elman_over_simple"]
        pr = run["ratios_elman_over_simple_per_repeat"]
        met = ra["train"] >= goal_train and ra["infer"] >= goal_infer
        cells = [f"{ra[m]:.2f}x (per repeat {pr[m]['min']:.2f}-{pr[m]['max']:.2f})"
                 for m in ("train", "infer")]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {'yes' if met else 'no'} |")
    lines.append("")
    lines.append("| shape (B, T, D, U) | ElmanRNN(jit_loop)/SimpleRNN train "
                 "| ElmanRNN(jit_loop)/SimpleRNN infer | goal met |")
    lines.append("|---|---:|---:|---|")
    for run in runs:
        s = run["shape"]
        label = f"({s['batch']}, {s['steps']}, {s['input_dim']}, {s['units']})"
        ra = run["ratios_elman_jit_loop_over_simple"]
        met = ra["train"] >= goal_train and ra["infer"] >= goal_infer
        lines.append(f"| {label} | {ra['train']:.2f}x | {ra['infer']:.2f}x "
                     f"| {'yes' if met else 'no'} |")
    lines.append("")
    lines.append("| shape (B, T, D, U) | plain matmul | GFLOP/s |")
    lines.append("|---|---|---:|")
    for run in runs:
        s = run["shape"]
        label = f"({s['batch']}, {s['steps']}, {s['input_dim']}, {s['units']})"
        for k, v in run["matmul_gflops"].items():
            lines.append(f"| {label} | {k} | {v:.1f} |")
    return "\n".join(lines)


def source_version():
    """The git commit of the checkout and whether seqtasks/ differs from it (read-only)."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "seqtasks"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit, bool(dirty)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats per contender (median reported); default 11, "
                             "3 with --quick")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, finishes in < 1 min")
    parser.add_argument("--json", default=None, help="write the results as JSON to this path")
    parser.add_argument("--target-seconds", type=float, default=None,
                        help="approximate length of one timed sample (default 0.4, 0.02 quick)")
    parser.add_argument("--no-torch", action="store_true", help="skip torch.nn.RNN")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (3 if args.quick else 11)
    args.target_seconds = args.target_seconds or (0.02 if args.quick else 0.4)
    args.big_matmul = 128 if args.quick else 1024
    shapes = QUICK_SHAPES if args.quick else FULL_SHAPES
    goal_train, goal_infer = 1.5, 1.3

    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "torch": None if torch is None or args.no_torch else torch.__version__,
        "torch_threads": None if torch is None or args.no_torch else torch.get_num_threads(),
    }
    env["git_commit"], env["seqtasks_modified_since_commit"] = source_version()
    env["load_average_at_start"] = list(os.getloadavg())
    print("environment:", json.dumps(env), flush=True)
    start = time.perf_counter()
    runs = [bench_shape(shape, args) for shape in shapes]
    table = markdown(runs, goal_train, goal_infer)
    print("\n" + table)
    elapsed = time.perf_counter() - start
    env["load_average_at_end"] = list(os.getloadavg())
    print(f"load average (1, 5, 15 min) at start {env['load_average_at_start']}, "
          f"at end {env['load_average_at_end']} on {os.cpu_count()} CPUs")
    print(f"\n(benchmark took {elapsed:.0f} s; medians of {args.repeats} interleaved repeats)")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({
                "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
                "environment": env,
                "settings": {"repeats": args.repeats, "target_seconds": args.target_seconds,
                             "quick": args.quick, "learning_rate": LEARNING_RATE,
                             "loss": "mean squared error of the full output sequence",
                             "optimizer": "SGD", "jit_compile": False},
                "goal": {"train": goal_train, "infer": goal_infer},
                "runs": runs,
                "markdown": table,
            }, f, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
