"""The training corpus as a stream: read from its files on every pass, never held in memory.

A :class:`Stream` is a re-iterable sequence of :class:`~seqtasks.recipes.base.Example`: each
``iter()`` opens the files again and reads them in order, one record at a time. Its first
pass (the adaptation pass, see :meth:`seqtasks.recipes.base.Recipe.adapt`) also

* carves the held-out splits the configuration leaves out, by a hash of each record's place
  (file number, record number) and the seed: the same seed gives the same split whatever the
  batch size, the number of workers or the number of passes (:class:`Carving`);
* counts the examples, so ``len(stream)`` is known afterwards.

Under ``multi_worker`` a worker reads its share only (:meth:`Stream.shard`): whole files when
the corpus is several files, otherwise every n-th training record.
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import os
import struct

from seqtasks.errors import DataError

#: Characters that make a ``data.*`` path a glob pattern.
GLOB_CHARS = "*?["


def expand_files(spec, key):
    """The files ``spec`` names: a path, a glob pattern (sorted matches) or a list of them.
    A pattern that matches nothing is a :class:`DataError` naming ``key``."""
    specs = spec if isinstance(spec, (list, tuple)) else [spec]
    files = []
    for item in specs:
        item = os.fspath(item)
        if any(c in item for c in GLOB_CHARS):
            matches = sorted(glob.glob(item))
            if not matches:
                raise DataError(f"{key}: the pattern {item!r} matches no file")
            files += matches
        else:
            files.append(item)
    return files


def unit_hash(seed, *place):
    """A number in [0, 1) that depends only on ``seed`` and ``place`` (stable across
    processes, Python versions and machines: ``hash()`` is salted per process)."""
    digest = hashlib.blake2b(struct.pack(f"<{1 + len(place)}q", seed, *place),
                             digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


class Carving:
    """Which held-out split (if any) a training record belongs to.

    A record at ``place`` goes to ``test`` when ``u < test`` and to ``validation`` when
    ``test <= u < test + validation * (1 - test)`` (``u``: :func:`unit_hash`), so each
    missing split takes its fraction of what is left, as before. At most ``limit`` records
    go to each split (they are held in memory); the place of the last one kept is recorded
    in the first pass, so later passes (and other workers) decide without counting.

    Args:
        fractions: ``{split: fraction}`` of the splits to carve (``test`` first).
        seed: the run's seed.
        limit: most examples carved per split.
    """

    def __init__(self, fractions, seed, limit):
        self.fractions, self.seed, self.limit = dict(fractions), int(seed), int(limit)
        #: ``{split: place}`` after which no record is carved into ``split`` (the limit was
        #: reached there), filled during the first pass.
        self.until = {}
        bounds, low = [], 0.0
        for split in ("test", "validation"):
            if split in self.fractions:
                width = self.fractions[split] * (1 - low) if low else self.fractions[split]
                bounds.append((split, low, low + width))
                low += width
        self._bounds = bounds

    def __bool__(self):
        return bool(self.fractions)

    def split_of(self, place):
        """The split the record at ``place`` is carved into, or None (it trains)."""
        u = unit_hash(self.seed, *place)
        for split, low, high in self._bounds:
            if low <= u < high:
                until = self.until.get(split)
                return split if until is None or place <= until else None
        return None

    def state(self):
        return {"fractions": self.fractions, "seed": self.seed, "limit": self.limit,
                "until": {s: list(p) for s, p in self.until.items()}}

    @classmethod
    def from_state(cls, state):
        carving = cls(state["fractions"], state["seed"], state["limit"])
        carving.until = {s: tuple(p) for s, p in state["until"].items()}
        return carving


class Stream:
    """A re-iterable stream of examples read from ``files`` by ``read(file)`` (a generator).

    Args:
        files: what ``read`` takes, one item per file (paths, or pairs of aligned files).
        read: ``read(file) -> iterable of Example``.
        carving: a :class:`Carving`, or None.
        name: how messages name the stream (``data.train``).
    """

    def __init__(self, files, read, carving=None, name="data.train"):
        self.files, self.read, self.carving, self.name = list(files), read, carving, name
        #: ``{split: [Example]}`` filled by the first pass (see :class:`Carving`).
        self.carved = {split: [] for split in (carving.fractions if carving else ())}
        #: The first training examples of the first pass: what the elements look like.
        self.head = []
        #: Training records per file, counted by the first pass (the workers' shares).
        self.file_counts = []
        self._length = None
        self._shard = (0, 1)
        self._passes = 0

    @classmethod
    def of(cls, examples, name="data.train"):
        """A stream over examples already in memory (the built-in data sets)."""
        examples = list(examples)
        stream = cls([examples], iter, name=name)
        stream._length = len(examples)
        return stream

    def __len__(self):
        if self._length is None:
            raise TypeError(f"{self.name}: the number of examples is known after the first "
                            "pass over the stream (the adaptation pass)")
        return self._length

    @property
    def counted(self):
        return self._length is not None

    def shard(self, index, count):
        """This stream restricted to worker ``index`` of ``count``: whole files when there
        are at least ``count`` of them, otherwise every ``count``-th training record. The
        full stream's first pass must be done (it decides the carving)."""
        stream = Stream(self.files, self.read, self.carving, self.name)
        stream._shard, stream.head = (index, count), self.head
        stream._passes = 1  # carving (and its limits) come from the full stream's first pass
        stream._length = self.share(index, count) if self.counted else None
        return stream

    def share(self, index, count):
        """Training examples in worker ``index``'s share (after the first pass)."""
        if count > 1 and len(self.files) >= count:
            return sum(self.file_counts[index::count])
        return len(self) // count + (index < len(self) % count)

    def smallest_share(self, count):
        return min(self.share(i, count) for i in range(count))

    def __iter__(self):
        first = self._passes == 0 and self._shard == (0, 1)
        self._passes += 1
        index, count = self._shard
        by_file = count > 1 and len(self.files) >= count
        kept = 0
        for number, item in enumerate(self.files):
            if by_file and number % count != index:
                continue
            before = kept
            for record, example in enumerate(self.read(item)):
                if self.carving:
                    place = (number, record)
                    split = self.carving.split_of(place)
                    if split is not None:
                        if first:
                            self._carve(split, place, example)
                        continue
                if not by_file and count > 1 and kept % count != index:
                    kept += 1
                    continue
                kept += 1
                if first and len(self.head) < 2:
                    self.head.append(example)
                yield example
            if first:
                self.file_counts.append(kept - before)
        if first:
            self._length = kept

    def prefix(self, count):
        """The first ``count`` training examples, as a stream of its own (read, never held)."""
        stream = Stream([self], lambda whole: itertools.islice(whole, count), name=self.name)
        stream.head = self.head
        return stream

    def restore(self, length, carved, head, file_counts):
        """Take what a first pass made earlier learned (a resumed run, a worker given the
        chief's pass): later passes carve nothing more and skip the carved records."""
        self._length, self._passes, self.head = length, max(self._passes, 1), list(head)
        self.file_counts = list(file_counts)
        for split, examples in carved.items():
            self.carved[split][:] = examples

    def _carve(self, split, place, example):
        held = self.carved[split]
        held.append(example)
        if len(held) >= self.carving.limit:
            self.carving.until[split] = place
