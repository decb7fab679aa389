"""The CSV time-series reader against hand-written files."""

import numpy as np
import pytest
from helpers import write

from seqtasks.errors import DataError
from seqtasks.recipes.forecasting.data import read_series


def test_columns_by_name_or_index_and_gaps_interpolated(tmp_path):
    path = write(tmp_path / "s.csv", """
        day,rain,temp
        2001-01-01,0.0,10
        2001-01-02,1.0,NA
        2001-01-03,2.0,16
        2001-01-06,5.0,22
        """)
    series = read_series(path, "day", ["temp", 1])
    assert series.columns == ["temp", "rain"]
    assert [d.day for d in series.dates] == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(series.values[:, 0], [10, 13, 16, 18, 20, 22])
    np.testing.assert_allclose(series.values[:, 1], [0, 1, 2, 3, 4, 5])
    assert series.filled == 3  # 01-02 (NA), 01-04 and 01-05 (no row)


def test_missing_step_with_the_error_policy(tmp_path):
    path = write(tmp_path / "s.csv", "date,v\n2001-01-01,1\n2001-01-02,2\n2001-01-04,4\n"
                                     "2001-01-05,5\n")
    with pytest.raises(DataError, match=r"s.csv:4: no value for 2001-01-03"):
        read_series(path, missing="error")


@pytest.mark.parametrize("text,message", [
    ("date,v\n2001-01-02,1\n2001-01-01,2\n", r"s.csv:3: date 2001-01-01 is not after"),
    ("date,v\n2001-01-01,1\n01/02/2001,2\n", r"s.csv:3: expected a date like 1990-01-31"),
    ("date,v\n2001-01-01,1\n2001-01-02\n", r"s.csv:3: expected 2 columns like the header"),
    ("date,v\n2001-01-01,1\n2001-01-02,1,5\n", r"s.csv:3: expected 2 columns"),
    ("", r"s.csv: empty file"),
    ("date,v\n", r"s.csv: no rows after the header"),
])
def test_bad_files_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_series(path)


def test_unknown_columns(tmp_path):
    path = write(tmp_path / "s.csv", "date,v\n2001-01-01,1\n")
    with pytest.raises(DataError, match=r"s.csv:1: no time column 'Date'; the header has: date, v"):
        read_series(path, "Date")
    with pytest.raises(DataError, match=r"value column 5 does not exist"):
        read_series(path, 0, [5])
