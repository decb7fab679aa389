"""Load on `seqtasks serve` over loopback: throughput and latency with 1, 8 and 32 concurrent
clients, batching on and off, beside direct in-process calls of the same signature.

    python benchmarks/serve_load.py [--requests 600] [--seconds 20] [--client wrk|httpx]
                                    [--max-batch-size N ...] [--output results.json]

Trains smart_reply and translation one step on their built-in data with their default sizes
(speed does not depend on what the weights learned), exports them, then for each setting starts
`seqtasks serve` in its own process and sends row-format requests of one example each.

The load comes from `wrk` (Debian package `wrk`; the default where it is installed: a C
client that takes little of the cores the server runs on) for --seconds per cell, after one
second of warm-up, or from asyncio clients (httpx) in this process (`--client httpx`), which
stop after --requests requests or --seconds seconds, whichever comes first; their first
requests (one per client) warm up and are not counted.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

RECIPES = {"smart_reply": "where is my order, it has not arrived yet",
           "translation": "ein mann fährt mit dem fahrrad"}
CLIENTS = (1, 8, 32)


def build_exports(root):
    import keras

    import seqtasks
    from seqtasks import export

    for name in RECIPES:
        recipe = seqtasks.get_recipe(name)
        task = recipe(recipe.default_config([f"export.dir={root}"]))
        keras.utils.set_random_seed(0)
        datasets = task.build_datasets()
        model = task.build_model()
        model.fit(datasets["train"].take(1), verbose=0)
        export.export(task, model)


def direct(root, requests, seconds):
    """Latency of one example per call, and throughput at 32 examples per call."""
    import tensorflow as tf

    rows = []
    for name, text in RECIPES.items():
        signature = tf.saved_model.load(str(root / name / "1")).signatures["serving_default"]
        one, batch = tf.constant([text]), tf.constant([text] * 32)
        signature(text=one), signature(text=batch)  # warm up
        latencies, start = [], time.perf_counter()
        while len(latencies) < requests and time.perf_counter() - start < seconds:
            t = time.perf_counter()
            signature(text=one)
            latencies.append(time.perf_counter() - t)
        calls, start = 0, time.perf_counter()
        while calls * 32 < requests and time.perf_counter() - start < seconds:
            signature(text=batch)
            calls += 1
        rows.append({"recipe": name, "mode": "direct call, 1 example", "clients": 1,
                     **_stats(latencies, sum(latencies))})
        rows.append({"recipe": name, "mode": "direct call, 32 examples", "clients": 1,
                     "throughput": calls * 32 / (time.perf_counter() - start)})
    return rows


def _stats(latencies, elapsed):
    ms = np.asarray(latencies) * 1000
    return {"throughput": len(ms) / elapsed, "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "requests": len(ms)}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _load(url, text, clients, requests, seconds):
    import httpx

    latencies, failures = [], 0
    body = {"instances": [text]}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        await asyncio.gather(*[client.post(url, json=body) for _ in range(clients)])  # warm up
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()

        async def worker():
            nonlocal failures
            while len(latencies) + failures < requests and time.perf_counter() < deadline:
                t = time.perf_counter()
                answer = await client.post(url, json=body)
                if answer.status_code == 200:
                    latencies.append(time.perf_counter() - t)
                else:
                    failures += 1

        await asyncio.gather(*[worker() for _ in range(clients)])
        elapsed = time.perf_counter() - start
    return {**_stats(latencies, elapsed), "failures": failures}


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _wrk(url, text, clients, seconds):
    """One cell measured by wrk: throughput, p50/p99 latency, failed requests."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                     f"wrk.body = {json.dumps(json.dumps({'instances': [text]}))}\n")
    try:
        command = ["wrk", "-t1", f"-c{clients}", "--latency", "-s", script.name, url]
        subprocess.run([*command[:3], "-d1s", *command[3:]], capture_output=True, check=True)
        shown = subprocess.run([*command[:3], f"-d{max(1, round(seconds))}s", *command[3:]],
                               capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)

    def latency(percent):
        value, unit = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", shown, re.M).groups()
        return float(value) * _UNITS[unit]

    requests = int(re.search(r"(\d+) requests in", shown).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", shown)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       shown)
    return {"throughput": float(re.search(r"Requests/sec:\s+([\d.]+)", shown).group(1)),
            "p50_ms": latency(50), "p99_ms": latency(99), "requests": requests,
            "failures": (int(bad.group(1)) if bad else 0)
            + (sum(map(int, errors.groups())) if errors else 0)}


def served(root, batching, requests, seconds, client, max_batch_size=None):
    """One server (``max_batch_size`` None: the server's default), every recipe and client
    count."""
    port = _free_port()
    command = [sys.executable, "-m", "seqtasks", "serve", str(root), "--port", str(port),
               "--poll-seconds", "0", "--batching" if batching else "--no-batching"]
    if max_batch_size:
        command += ["--max-batch-size", str(max_batch_size)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    rows = []
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models/translation")
                break
            except httpx.ConnectError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)
        for name, text in RECIPES.items():
            url = f"http://127.0.0.1:{port}/v1/models/{name}:predict"
            for clients in CLIENTS:
                if client == "wrk":
                    result = _wrk(url, text, clients, seconds)
                else:
                    result = asyncio.run(_load(url, text, clients, requests, seconds))
                mode = "server, no batching"
                if batching:
                    mode = "server, batching" + (f" (max {max_batch_size})"
                                                 if max_batch_size else "")
                rows.append({"recipe": name, "mode": mode, "clients": clients, **result})
                print(json.dumps(rows[-1]), flush=True)
    finally:
        server.terminate()
        server.wait(30)
    return rows


def table(rows):
    lines = ["| recipe | mode | clients | requests/s | p50 ms | p99 ms |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        p50 = f"{r['p50_ms']:.1f}" if "p50_ms" in r else ""
        p99 = f"{r['p99_ms']:.1f}" if "p99_ms" in r else ""
        lines.append(f"| {r['recipe']} | {r['mode']} | {r['clients']} | "
                     f"{r['throughput']:.0f} | {p50} | {p99} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--client", choices=("wrk", "httpx"),
                        default="wrk" if shutil.which("wrk") else "httpx")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--max-batch-size", type=int, action="append", default=None,
                        help="the batched server's --max-batch-size; repeat to compare sizes "
                             "in one run (default: the server's own default)")
    args = parser.parse_args()
    print(f"load client: {args.client}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "exports"
        build_exports(root)
        rows = direct(root, args.requests, args.seconds)
        rows += served(root, False, args.requests, args.seconds, args.client)
        for size in args.max_batch_size or [None]:
            rows += served(root, True, args.requests, args.seconds, args.client, size)
    print(table(rows))
    for name in RECIPES:
        cell = {r["mode"]: r for r in rows if r["recipe"] == name and r["clients"] == 32}
        alone = cell.pop("server, no batching")["throughput"]
        for mode in (m for m in cell if m.startswith("server, batching")):
            print(f"{name}, 32 clients, {mode}: {cell[mode]['throughput'] / alone:.1f}x the "
                  f"unbatched throughput; p99 {cell[mode]['p99_ms']:.0f} ms")
    if args.output:
        args.output.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
