"""Atomic writes: a crash never leaves a half-written file or directory behind."""

import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def ordinary(path, directory=False):
    """Give ``path`` (made by ``tempfile``, which allows only its owner) the permissions
    ``mkdir`` or ``open`` would have given it under the process umask: 0755 / 0644 under the
    usual 022, so that TF Serving or a container running as another user can read it."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())
    return path


def new_run_dir(name):
    """``runs/<name>-<timestamp>``: the default folder of a new run (or comparison...)."""
    return Path(f"runs/{name}-{time.strftime('%Y%m%d-%H%M%S')}")


def write_text(path, text):
    """Write ``text`` to a temporary sibling of ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        ordinary(tmp)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path, data):
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


@contextmanager
def atomic_directory(parent, prefix):
    """Yield a temporary directory inside ``parent``; removed unless the caller renames it."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    tmp = ordinary(Path(tempfile.mkdtemp(dir=parent, prefix=f".{prefix}.")), directory=True)
    try:
        yield tmp
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_file(path):
    """Yield a temporary sibling path of ``path``; on success it is renamed to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
