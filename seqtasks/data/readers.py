"""Read table-like text files (CSV, TSV, JSON Lines), with file:line in every error.

Files may be gzip-compressed (``.gz``). Each reader yields ``(line_number, record)`` where a
record is a dict (named columns) or a list (numbered columns).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

from seqtasks.errors import DataError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def read_text(path):
    """The whole file as text; a missing file or non-UTF-8 bytes are a :class:`DataError`."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DataError(f"{path}: not a valid gzip file ({e})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line}: not valid UTF-8 (byte 0x{raw[e.start]:02x}); save the file as UTF-8"
        ) from None


def iter_lines(path):
    """Yield the lines of a text file (``.gz`` decompressed) one at a time, newlines kept, so a
    large file is never held in memory; the same errors as :func:`read_text`."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a file")
    opener = gzip.open if path.suffix == ".gz" else open
    number = 0
    try:
        with opener(path, "rb") as f:
            for number, raw in enumerate(f, 1):
                try:
                    yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as e:
                    raise DataError(
                        f"{path}:{number}: not valid UTF-8 (byte 0x{raw[e.start]:02x}); save the "
                        "file as UTF-8") from None
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: not a valid gzip file ({e})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None


def is_plain_text(path):
    """Whether ``path`` is a ``.txt`` file (``.txt.gz`` too): to ``seqtasks predict``, one
    input per line, as standard input is."""
    return Path(path).name.lower().removesuffix(".gz").endswith(".txt")


def text_lines(path):
    """Yield ``(where, text)`` for each non-blank line of a text file, without its line break,
    one at a time."""
    for number, line in enumerate(iter_lines(path), 1):
        if line.strip():
            yield f"{path}:{number}", line.rstrip("\r\n")


def file_format(path):
    name = Path(path).name
    if name.endswith(".gz"):
        name = name[:-3]
    fmt = FORMATS.get(Path(name).suffix.lower())
    if fmt is None:
        raise DataError(
            f"{path}: unknown file type; expected one of {', '.join(sorted(FORMATS))} "
            "(optionally .gz)"
        )
    return fmt


def delimited_rows(text, delimiter=","):
    """Yield ``(line, cells)`` for every row of CSV (or other delimited) text (a string, or an
    iterable of lines) that is not blank; ``line`` is the 1-based line number the row ends on."""
    lines = io.StringIO(text, newline="") if isinstance(text, str) else text
    reader = csv.reader(lines, delimiter=delimiter)
    for row in reader:
        if any(map(str.strip, row)):
            yield reader.line_num, row


def _jsonl(path, lines):
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{number}: not valid JSON ({e.msg})") from None
        if not isinstance(record, (dict, list)):
            raise DataError(f"{path}:{number}: expected a JSON object or array, found {record!r}")
        yield number, record


def read_columns(path, columns):
    """Yield ``(line, values)`` with one value per requested column (names or 0-based indices).

    Columns given by name need a header row (CSV/TSV) or objects (JSON Lines); columns given
    by position read every row as data.
    """
    by_name = all(isinstance(c, str) for c in columns)
    if not by_name and not all(isinstance(c, int) for c in columns):
        raise DataError(f"{path}: give all columns by name or all by position, not {columns!r}")
    fmt = file_format(path)
    records = _delimited_columns(path, fmt, columns, by_name) if fmt != "jsonl" else \
        _record_columns(path, columns, by_name)
    empty = True
    for line, values in records:
        empty = False
        yield line, values
    if empty:
        raise DataError(f"{path}: the file has no data rows")


def _missing(path, line, column, have):
    return DataError(f"{path}:{line}: missing column {column!r} (found: {have})")


def _delimited_columns(path, fmt, columns, by_name):
    """:func:`read_columns` of a CSV or TSV file: the columns' places found once, from the
    header (the hot loop of reading a large file only picks cells)."""
    rows = delimited_rows(iter_lines(path), "," if fmt == "csv" else "\t")
    names = next((([cell.strip() for cell in row]) for _, row in rows), None) if by_name \
        else None
    places = None
    for line, row in rows:
        if names is None:  # by position
            try:
                yield line, [row[column] for column in columns]
            except IndexError:
                column = next(c for c in columns if not -len(row) <= c < len(row))
                raise _missing(path, line, column, f"{len(row)} columns") from None
            continue
        if len(row) != len(names):
            raise DataError(f"{path}:{line}: expected {len(names)} columns "
                            f"({', '.join(names)}), found {len(row)}")
        if places is None:
            index = {name: i for i, name in enumerate(names)}  # the last of a repeated name
            for column in columns:
                if column not in index:
                    raise _missing(path, line, column, ", ".join(dict.fromkeys(names)))
            places = [index[column] for column in columns]
        yield line, [row[i] for i in places]


def _record_columns(path, columns, by_name):
    """:func:`read_columns` of a JSON Lines file."""
    for line, record in _jsonl(path, iter_lines(path)):
        values = []
        for column in columns:
            if isinstance(record, dict) != by_name:
                kind = "named columns" if by_name else "numbered columns"
                raise DataError(f"{path}:{line}: expected a record with {kind}, found {record!r}")
            try:
                value = record[column]
            except (KeyError, IndexError):
                have = ", ".join(record) if isinstance(record, dict) else f"{len(record)} columns"
                raise _missing(path, line, column, have) from None
            if value is None:
                raise DataError(f"{path}:{line}: column {column!r} is empty")
            values.append(value if isinstance(value, str) else str(value))
        yield line, values


def decoded(value):
    """A TFDS string feature (bytes) or other scalar as ``str``."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def tfds_feature(info, name, where, key):
    """The feature ``name`` of a TFDS dataset; a missing one names ``key`` to set."""
    features = info.features
    if name not in features:
        raise DataError(f"{where}: no feature {name!r} (features: {', '.join(features)}); "
                        f"set {key}")
    return features[name]


def read_replies(path):
    """``{label: reply text}`` from a CSV/TSV/JSONL file with ``label`` and ``reply`` columns;
    ``{}`` when ``path`` is None."""
    if path is None:
        return {}
    return {label.strip(): reply for _, (label, reply) in read_columns(path, ["label", "reply"])}
