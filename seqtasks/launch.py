"""``seqtasks run ... --workers N``: a multi_worker cluster of N processes on this machine.

Each worker is ``python -m seqtasks run`` with the same arguments, ``--set
train.strategy=multi_worker``, the same ``--output`` and its own ``TF_CONFIG`` (worker 0 is the
chief; loopback ports). The chief's output is shown; the others' is kept in a temporary file
that is printed if that worker fails, then removed. When one worker fails (or is killed) the
others are stopped; running the same command again resumes from the last completed epoch.
On N machines, start the same command on each with its own ``TF_CONFIG`` instead (see
docs/scaling.md).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from seqtasks.errors import ClusterError


def free_ports(count):
    """``count`` TCP ports on 127.0.0.1 that nothing listens on now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_configs(ports):
    """One ``TF_CONFIG`` per worker of a cluster on ``ports`` of 127.0.0.1."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
            for i in range(len(ports))]


def worker_command(recipe, overrides, output):
    sets = [arg for o in [*overrides, "train.strategy=multi_worker"] for arg in ("--set", o)]
    return [sys.executable, "-m", "seqtasks", "run", recipe, *sets, "--output", str(output)]


def launch(recipe, overrides, output, workers, echo=print, poll=0.2):
    """Run the cluster; return when every worker has finished. Raises :class:`ClusterError`
    naming the workers that failed (the others are stopped then)."""
    command = worker_command(recipe, overrides, output)
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    logs, processes = [], []
    try:
        for index, tf_config in enumerate(tf_configs(free_ports(workers))):
            log = None if index == 0 else tempfile.TemporaryFile()
            logs.append(log)
            processes.append(subprocess.Popen(
                command, env={**env, "TF_CONFIG": tf_config}, stdout=log,
                stderr=subprocess.STDOUT if log else None))
        echo(f"cluster: {workers} workers on 127.0.0.1 (worker 0 is the chief; "
             f"pids {' '.join(str(p.pid) for p in processes)})")
        while any(p.poll() is None for p in processes):
            if any(p.returncode not in (None, 0) for p in processes):
                break
            time.sleep(poll)
        failed = [i for i, p in enumerate(processes) if p.returncode not in (None, 0)]
        if failed:
            raise ClusterError(_failure(failed, processes, logs))
    finally:
        _stop(processes)
        for log in logs:
            if log is not None:
                log.close()


def _failure(failed, processes, logs):
    """One line on the failed workers, those killed by a signal first (the others' failure
    is then mostly their lost contact with it); the last lines of their logs go to stderr."""
    failed = sorted(failed, key=lambda i: processes[i].returncode >= 0)
    what = []
    for index in failed:
        code = processes[index].returncode
        what.append(f"worker {index} " + (f"was killed by signal {-code}" if code < 0
                                          else f"exited with status {code}"))
        log = logs[index]
        if log is not None:
            log.seek(0)
            tail = log.read().decode(errors="replace").strip().splitlines()[-20:]
            if tail:
                sys.stderr.write("".join(f"[worker {index}] {line}\n" for line in tail))
    return (f"{'; '.join(what)}; the other workers were stopped. Run the same command again "
            "to resume from the last completed epoch")


def _stop(processes, grace=10):
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.time() + grace
    for p in processes:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
