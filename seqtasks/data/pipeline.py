"""tf.data from a stream of examples: read in chunks by Python, converted by the
preprocessor, unbatched; and the on-disk cache of the encoded training examples."""

import atexit
import itertools
import shutil
import tempfile
from pathlib import Path

#: Examples converted per call of the preprocessor (amortises the per-call cost of
#: ``from_generator``; a chunk is the only part of the stream held in memory).
CHUNK = 1024


def chunks(iterable, size):
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def stream_dataset(examples, convert, probe, chunk_size=CHUNK):
    """Chunks of ``examples`` (re-iterable: read again whenever the dataset is): unbatched,
    the elements ``tf.data.Dataset.from_tensor_slices(convert(examples))`` would give, without
    ever holding more than ``chunk_size`` examples. ``convert(list of examples)`` returns
    what ``from_tensor_slices`` takes; ``probe``: a few examples of the same kind, in memory,
    that give the elements' structure (nothing is read before the dataset is iterated)."""
    import tensorflow as tf

    def batched(chunk):
        return tf.data.Dataset.from_tensor_slices(convert(chunk)).batch(len(chunk))

    spec = batched(list(probe)).element_spec

    def generate():
        for chunk in chunks(examples, chunk_size):
            yield _arrays(convert(chunk))

    return tf.data.Dataset.from_generator(generate, output_signature=spec)


def _arrays(structure):
    """``convert``'s result as ``from_generator`` takes it: lists (of strings, numbers...)
    become arrays; dicts and tuples are kept; tensors pass."""
    import numpy as np

    if isinstance(structure, dict):
        return {k: _arrays(v) for k, v in structure.items()}
    if isinstance(structure, tuple):
        return tuple(_arrays(v) for v in structure)
    if isinstance(structure, list):
        return np.array(structure, dtype=object if structure and isinstance(
            structure[0], str) else None)
    return structure


_temporary = []


def _remove_temporary():
    for path in _temporary:
        shutil.rmtree(path, ignore_errors=True)


def cache_folder(folder):
    """``folder`` (created), or for None a temporary folder removed when the process exits."""
    if folder is None:
        if not _temporary:
            atexit.register(_remove_temporary)
        _temporary.append(tempfile.mkdtemp(prefix="seqtasks-cache-"))
        folder = _temporary[-1]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def disk_cache(dataset, folder, name):
    """``dataset.cache(<folder>/<name>)``: the first epoch writes the encoded examples, later
    ones read them. A cache left unfinished by a killed run is removed first (TensorFlow
    refuses to write over its lock file); a finished one is reused. ``folder=None``: a
    temporary folder removed when the process exits."""
    folder = cache_folder(folder)
    prefix = folder / name
    if not Path(f"{prefix}.index").exists():
        for stale in folder.glob(f"{name}*"):
            stale.unlink()
    return dataset.cache(str(prefix))
