import gzip

import pytest

from seqtasks.data.batching import length_boundaries
from seqtasks.data.readers import read_columns
from seqtasks.errors import DataError


def test_csv_tsv_jsonl_and_gzip(tmp_path):
    (tmp_path / "a.csv").write_text('text,label\n"hello, you",greet\nbye,bye\n')
    (tmp_path / "a.tsv").write_text("text\tlabel\nhello\tgreet\n")
    (tmp_path / "a.jsonl").write_text('{"text": "hi", "label": "greet"}\n\n["x", "y"]\n')
    with gzip.open(tmp_path / "b.tsv.gz", "wt") as f:
        f.write("hello\tgreet\n")
    assert list(read_columns(tmp_path / "a.csv", ["text", "label"])) == [
        (2, ["hello, you", "greet"]), (3, ["bye", "bye"])]
    assert list(read_columns(tmp_path / "a.tsv", ["text", "label"])) == [(2, ["hello", "greet"])]
    assert list(read_columns(tmp_path / "b.tsv.gz", [0, 1])) == [(1, ["hello", "greet"])]
    with pytest.raises(DataError, match=r"a.jsonl:3: expected a record with named columns"):
        list(read_columns(tmp_path / "a.jsonl", ["text", "label"]))


def test_row_with_missing_column_names_file_and_line(tmp_path):
    (tmp_path / "t.csv").write_text("text,label\nhi,greet\nno label here\n")
    with pytest.raises(DataError, match=r"t.csv:3: expected 2 columns \(text, label\), found 1"):
        list(read_columns(tmp_path / "t.csv", ["text", "label"]))


def test_missing_named_column(tmp_path):
    (tmp_path / "t.csv").write_text("message,intent\nhi,greet\n")
    with pytest.raises(DataError,
                       match=r"t.csv:2: missing column 'text' \(found: message, intent\)"):
        list(read_columns(tmp_path / "t.csv", ["text", "intent"]))


def test_non_utf8_names_line(tmp_path):
    (tmp_path / "t.tsv").write_bytes(b"text\tlabel\nok\tgreet\nbad \xff byte\tgreet\n")
    with pytest.raises(DataError, match=r"t.tsv:3: not valid UTF-8 \(byte 0xff\)"):
        list(read_columns(tmp_path / "t.tsv", ["text", "label"]))


def test_empty_and_missing_and_unknown_files(tmp_path):
    (tmp_path / "e.csv").write_text("text,label\n")
    with pytest.raises(DataError, match="e.csv: the file has no data rows"):
        list(read_columns(tmp_path / "e.csv", ["text", "label"]))
    with pytest.raises(DataError, match="nope.csv: no such file"):
        list(read_columns(tmp_path / "nope.csv", ["text", "label"]))
    (tmp_path / "x.parquet").write_text("")
    with pytest.raises(DataError, match="unknown file type"):
        list(read_columns(tmp_path / "x.parquet", ["text"]))


def test_length_boundaries_are_increasing_quantiles():
    bounds = length_boundaries(list(range(1, 101)), buckets=4)
    assert bounds == sorted(set(bounds)) and 20 < bounds[0] < 30 and bounds[-1] < 101


def test_missing_numbered_column(tmp_path):
    """Columns by position: every row is data, and a short row names the column it lacks."""
    (tmp_path / "t.tsv").write_text("a\tb\tc\nd\te\n")
    rows = read_columns(tmp_path / "t.tsv", [0, 2])
    assert next(rows) == (1, ["a", "c"])
    with pytest.raises(DataError, match=r"t.tsv:2: missing column 2 \(found: 2 columns\)"):
        next(rows)
