"""Read parallel text (sentence pairs) for a translation recipe, with file:line in every error.

Two layouts, both optionally gzip-compressed (``.gz``): one TSV file, ``source<TAB>target[<TAB>
anything else]`` per line (the Anki/Tatoeba lists; split on TAB only, never with CSV quoting,
the two columns choosable), or two line-aligned files (``train.de.gz``, ``train.en.gz``). Blank
lines are skipped; a pair with one side empty is an error (a misaligned or truncated file). A
:class:`Pair`'s ``where`` ("path:line", the source file for aligned files) names its line.
"""

from __future__ import annotations

import collections
import itertools
import os

from seqtasks.data.readers import decoded, iter_lines
from seqtasks.errors import DataError
from seqtasks.recipes.base import Example
from seqtasks.recipes.reader import Reader

Pair = collections.namedtuple("Pair", "source target where")

_QUOTE_LIMIT = 60


def _empty_side(where, side, other):
    """The error for a pair whose ``side`` is empty, quoting the ``other`` sentence (cut)."""
    if len(other) > _QUOTE_LIMIT:
        other = other[: _QUOTE_LIMIT - 3] + "..."
    other_side = "target" if side == "source" else "source"
    return DataError(f"{where}: empty {side} sentence ({other_side}: {other!r})")


def _column(value, name, path):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"{path}: {name} must be a column number counted from 0, found {value!r}")
    return value


def _tsv_rows(path, needed, layout):
    """``(number, cells)`` of each non-blank line of a TSV file, one at a time; a line with
    fewer than ``needed`` cells is an error that names the ``layout``."""
    for number, line in enumerate(iter_lines(path), 1):
        line = line.rstrip("\n").removesuffix("\r")
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) < needed:
            raise DataError(f"{path}:{number}: expected at least {needed} tab-separated columns "
                            f"({layout}), found {len(cells)}")
        yield number, cells


def iter_tsv_pairs(path, source_column=0, target_column=1):
    """The sentence pairs of a tab-separated file, source and target from the given columns,
    one at a time (a file with none is an error once it is read)."""
    source_column = _column(source_column, "source_column", path)
    target_column = _column(target_column, "target_column", path)
    if source_column == target_column:
        raise DataError(f"{path}: source_column and target_column are both {source_column}; "
                        "the source and target sentences must come from different columns")
    if (source_column, target_column) == (0, 1):
        layout = "source<TAB>target"
    else:
        layout = f"source in column {source_column}, target in column {target_column}, from 0"
    found = False
    for number, cells in _tsv_rows(path, max(source_column, target_column) + 1, layout):
        source, target = cells[source_column].strip(), cells[target_column].strip()
        where = f"{path}:{number}"
        if not source:
            raise _empty_side(where, "source", target)
        if not target:
            raise _empty_side(where, "target", source)
        found = True
        yield Pair(source, target, where)
    if not found:
        raise DataError(f"{path}: no sentence pairs found")


def read_tsv_pairs(path, source_column=0, target_column=1):
    """The sentence pairs of a tab-separated file, as a list (see :func:`iter_tsv_pairs`)."""
    return list(iter_tsv_pairs(path, source_column, target_column))


def iter_sources(path, source_column=0):
    """Yield ``(where, source)`` for each non-blank line of a TSV file (or a plain text file,
    column 0), one line at a time: the inputs to translate."""
    source_column = _column(source_column, "source_column", path)
    layout = f"the source in column {source_column}, from 0"
    for number, cells in _tsv_rows(path, source_column + 1, layout):
        yield f"{path}:{number}", cells[source_column].strip()


def iter_aligned(source_path, target_path):
    """The sentence pairs of two line-aligned files, one at a time: both files are read side
    by side, never whole."""
    sources, targets = iter_lines(source_path), iter_lines(target_path)
    found = False
    for number, (source, target) in enumerate(itertools.zip_longest(sources, targets), 1):
        if source is None or target is None:  # one file ended: count the other's lines
            total = number + sum(1 for _ in (targets if source is None else sources))
            lines = (number - 1, total) if source is None else (total, number - 1)
            raise DataError(f"{source_path}: {lines[0]} lines but {target_path} has {lines[1]}; "
                            "the two files of a parallel corpus must align line by line")
        source, target = source.strip(), target.strip()
        if not source and not target:
            continue
        if not source:
            raise _empty_side(f"{source_path}:{number}", "source", target)
        if not target:
            raise _empty_side(f"{target_path}:{number}", "target", source)
        found = True
        yield Pair(source, target, f"{source_path}:{number}")
    if not found:
        raise DataError(f"{source_path}: no sentence pairs found (with {target_path})")


def read_aligned(source_path, target_path):
    """The sentence pairs of two line-aligned files, as a list (see :func:`iter_aligned`)."""
    return list(iter_aligned(source_path, target_path))


def tfds_pairs(rows, supervised_keys, where):
    """The sentence pairs of a TFDS split's NumPy rows (``where``: ``tfds:<name>:<split>``),
    by its ``(source, target)`` supervised keys; rows with an empty side are left out."""
    if not supervised_keys or len(supervised_keys) != 2:
        raise DataError(f"{where.rsplit(':', 1)[0]}: no (source, target) supervised keys in "
                        "its info")
    return _tfds_rows(rows, *supervised_keys, where)


def _tfds_rows(rows, source_key, target_key, where):
    for i, row in enumerate(rows):
        source, target = decoded(row[source_key]).strip(), decoded(row[target_key]).strip()
        if source and target:
            yield Pair(source, target, f"{where}[{i}]")


def _is_path(value):
    return isinstance(value, (str, os.PathLike))


def is_aligned(spec):
    """Whether ``spec`` names a pair of aligned files (a list or tuple of two paths)."""
    return isinstance(spec, (list, tuple)) and len(spec) == 2 and all(map(_is_path, spec))


def iter_pairs(spec, source_column=0, target_column=1, name="data.train"):
    """The sentence pairs ``spec`` names, one at a time: a TSV file, or a list or tuple of two
    aligned files (source first); ``name``, its configuration key, is in any other's error."""
    if _is_path(spec):
        return iter_tsv_pairs(spec, source_column, target_column)
    if is_aligned(spec):
        return iter_aligned(*spec)
    raise DataError(f"{name}: expected a TSV file or a list of two aligned files, found {spec!r}")


def read_pairs(spec, source_column=0, target_column=1, name="data.train"):
    """The sentence pairs ``spec`` names, as a list (see :func:`iter_pairs`)."""
    return list(iter_pairs(spec, source_column, target_column, name))


class TranslationReader(Reader):
    """Sentence pairs of TSV files or a pair of aligned files, TFDS translation datasets and
    the built-in pairs; ``seqtasks predict --input`` reads the source column of a TSV file."""

    def builtin(self, seed):
        from seqtasks.recipes.translation import builtin

        return {split: [Example(source, target, "built-in data") for source, target in pairs]
                for split, pairs in builtin.splits(seed).items()}

    def read_file(self, path, split):
        """The pairs of a TSV file, or of a pair of aligned files (``path`` a list of two)."""
        data = self.config["data"]
        return (Example(*pair) for pair in iter_pairs(
            path, data["source_column"], data["target_column"], name=f"data.{split}"))

    def files(self, spec, split):
        """A list of two files is one pair of aligned files; otherwise TSV files (a path, a
        glob or a list of them)."""
        return [spec] if is_aligned(spec) and not any(
            c in str(p) for p in spec for c in "*?[") else super().files(spec, split)

    def tfds_examples(self, rows, info, where):
        return (Example(*pair) for pair in tfds_pairs(rows, info.supervised_keys, where))

    def raw_inputs(self, examples):
        return {"text": [e.input for e in examples]}

    def prediction_inputs(self, path):
        for where, source in iter_sources(path, self.config["data"]["source_column"]):
            yield where, {"text": source}

    def format_prediction(self, inputs, outputs):
        return [t.decode("utf-8") for t in outputs["translation"]]
