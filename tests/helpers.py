"""Shared test helpers: tiny configurations, data files and a CLI runner."""

import contextlib
import json
import os
import subprocess
import sys
import textwrap

from click.testing import CliRunner

from seqtasks.cli import main

TINY_MODEL = [
    "model.units=8", "model.embedding_dim=8", "model.hidden_units=8",
    "train.batch_size=16",
]


def tiny(*overrides, epochs=2):
    return TINY_MODEL + [f"train.epochs={epochs}", *overrides]


def set_args(overrides):
    args = []
    for item in overrides:
        args += ["--set", item]
    return args


def cli(*args, input=None):
    """Invoke the CLI in-process; returns the click Result."""
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=True)


def assert_clean_failure(result, *fragments):
    """One clear line, non-zero exit, no traceback, and the message names what went wrong."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception)
    assert "Traceback" not in result.output
    message = result.output.strip().splitlines()[-1]
    assert message.startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in message, message


def write_csv(path, rows, header=("text", "label")):
    """A CSV file with a header row; returns its path."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write(path, text):
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


_GUARD = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "seqtasks" or name.startswith("seqtasks."):
            raise ImportError("seqtasks must not be imported here")
sys.meta_path.insert(0, _Block())
"""

_SERVE_CODE = """
import contextlib, io, json, sys, traceback
channel, sys.stdout = sys.stdout, sys.stderr
for line in sys.stdin:
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(json.loads(line), "<test>", "exec"), {"__name__": "__main__"})
        reply = {"stdout": out.getvalue()}
    except BaseException:
        reply = {"stdout": out.getvalue(), "error": traceback.format_exc()}
    channel.write(json.dumps(reply) + "\\n")
    channel.flush()
"""

_clean = None  # this test process's Python without seqtasks, started on first use


def run_without_seqtasks(code, timeout=300):
    """Run Python ``code`` in a process where importing seqtasks fails; returns what it
    printed. One such process per test process runs every call (each in fresh globals), so
    TensorFlow is imported once, not once per call."""
    import select

    global _clean
    if _clean is None or _clean.poll() is not None:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        _clean = subprocess.Popen([sys.executable, "-c", _GUARD + _SERVE_CODE], env=env, cwd="/",
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
    _clean.stdin.write(json.dumps(code) + "\n")
    _clean.stdin.flush()
    if not select.select([_clean.stdout], [], [], timeout)[0]:
        _clean.kill()
        raise AssertionError(f"the process without seqtasks gave no answer in {timeout} s")
    line = _clean.stdout.readline()
    assert line, "the process without seqtasks ended"
    reply = json.loads(line)
    assert "error" not in reply, reply["error"][-3000:]
    return reply["stdout"]


def run_expecting_failure(recipe, tmp_path, overrides):
    """``seqtasks run`` that must fail before writing its run or export directory."""
    result = cli("run", recipe, *set_args([*overrides, f"export.dir={tmp_path / 'x'}"]),
                 "--output", tmp_path / "run")
    assert not (tmp_path / "run").exists()
    assert not (tmp_path / "x").exists()
    return result



def free_port():
    """A TCP port free on 127.0.0.1 now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def png(seed, size=32):
    """PNG bytes of a random ``size`` x ``size`` RGB image."""
    import numpy as np
    import tensorflow as tf

    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    return tf.io.encode_png(pixels).numpy()


@contextlib.contextmanager
def serving(app):
    """``app`` served by uvicorn on 127.0.0.1 in a thread of this process; yields its URL."""
    import threading
    import time

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name="serving", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def numpy_attention_pooling(h, mask, project_kernel, project_bias, score_kernel):
    """NumPy reference of ``SequencePooling("attention")``: ``h`` ``[batch, steps, units]``
    summed with a softmax over the real steps (``mask``) of ``v . tanh(W h_t + b)``."""
    import numpy as np

    scores = (np.tanh(h @ project_kernel + project_bias) @ score_kernel)[..., 0]
    scores = np.where(mask, scores, -np.inf)
    attention = np.exp(scores - scores.max(1, keepdims=True))
    return ((attention / attention.sum(1, keepdims=True))[..., None] * h).sum(1)
