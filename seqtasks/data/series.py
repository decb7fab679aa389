"""Read a time series from a CSV file: a date column and one or more numeric value columns.

Rows must be in increasing date order, one per step (daily data: one per day). A step with no
row, or a row whose value cell is empty or ``NA``, is *missing*; the ``missing`` policy decides:

* ``"interpolate"`` (default): linear interpolation between the neighbouring observed values
  (a gap at the very start or end takes the nearest observed value); the number of filled
  steps is reported;
* ``"error"``: the first missing step is an error naming the file, line and date.

The step is the most common difference between consecutive dates (a day for daily data).
Every error names the file and line.
"""

from __future__ import annotations

import collections
import datetime

import numpy as np

from seqtasks.data.readers import delimited_rows, read_text
from seqtasks.errors import DataError

Series = collections.namedtuple("Series", "dates values columns filled")
MISSING_CELLS = {"", "na", "nan", "n/a", "null", "?"}


def _column_index(path, header, column, what):
    if isinstance(column, int) and not isinstance(column, bool):
        if not -len(header) <= column < len(header):
            raise DataError(f"{path}:1: {what} column {column} does not exist; the header has "
                            f"{len(header)} columns: {', '.join(header)}")
        return column % len(header)
    if column not in header:
        raise DataError(f"{path}:1: no {what} column {column!r}; the header has: "
                        f"{', '.join(header)}")
    return header.index(column)


def _parse_date(path, line, text):
    text = text.strip()
    for parse in (datetime.date.fromisoformat, datetime.datetime.fromisoformat):
        try:
            value = parse(text)
            return value if isinstance(value, datetime.datetime) else \
                datetime.datetime.combine(value, datetime.time())
        except ValueError:
            continue
    raise DataError(f"{path}:{line}: expected a date like 1990-01-31, found {text!r}")


def read_series(path, time_column=0, value_columns=None, missing="interpolate"):
    """The :class:`Series` of a CSV file with a header row.

    ``time_column``: name or 0-based index of the date column. ``value_columns``: names or
    indices of the value columns (default: every other column). Returns ``dates`` (a list of
    ``datetime``, one per step, gaps filled), ``values`` (``float32 [steps, columns]``),
    ``columns`` (their names) and ``filled`` (how many missing steps were interpolated).
    """
    numbered = list(delimited_rows(read_text(path)))
    if not numbered:
        raise DataError(f"{path}: empty file; expected a header and rows of date,value")
    header_line, header = numbered[0]
    header = [h.strip() for h in header]
    time_index = _column_index(path, header, time_column, "time")
    if value_columns is None:
        value_indices = [i for i in range(len(header)) if i != time_index]
    else:
        columns = value_columns if isinstance(value_columns, list) else [value_columns]
        value_indices = [_column_index(path, header, c, "value") for c in columns]
    if not value_indices:
        raise DataError(f"{path}:{header_line}: no value column besides the time column")
    dates, values, lines = [], [], []
    for line, row in numbered[1:]:
        if len(row) != len(header):
            raise DataError(f"{path}:{line}: expected {len(header)} columns like the header, "
                            f"found {len(row)}")
        date = _parse_date(path, line, row[time_index])
        if dates and date <= dates[-1]:
            raise DataError(f"{path}:{line}: date {row[time_index].strip()} is not after the "
                            f"previous row's {dates[-1].date().isoformat()}; rows must be in "
                            "increasing date order")
        record = []
        for index in value_indices:
            cell = row[index].strip()
            if cell.lower() in MISSING_CELLS:
                record.append(np.nan)
                continue
            try:
                record.append(float(cell))
            except ValueError:
                raise DataError(f"{path}:{line}: column {header[index]!r}: expected a number, "
                                f"found {cell!r}") from None
        dates.append(date)
        values.append(record)
        lines.append(line)
    if not dates:
        raise DataError(f"{path}: no rows after the header")
    return _regular(path, dates, np.array(values, np.float64), lines,
                    [header[i] for i in value_indices], missing)


def _regular(path, dates, values, lines, columns, missing):
    """Place the rows on a regular grid of steps and fill the missing steps."""
    if len(dates) == 1:
        step = datetime.timedelta(days=1)
    else:
        gaps = collections.Counter(b - a for a, b in zip(dates, dates[1:]))
        step = gaps.most_common(1)[0][0]
    positions = []
    for date, line in zip(dates, lines):
        offset = (date - dates[0]) / step
        if abs(offset - round(offset)) > 1e-9:
            raise DataError(f"{path}:{line}: date {date.isoformat()} is off the series' step of "
                            f"{step}")
        positions.append(round(offset))
    grid = np.full((positions[-1] + 1, values.shape[1]), np.nan)
    grid[positions] = values
    holes = np.isnan(grid).any(axis=1)
    if holes.any() and missing == "error":
        first = int(np.argmax(holes))
        date = (dates[0] + first * step).date().isoformat()
        known = positions.index(first) if first in positions else None
        where = f"{path}:{lines[known]}" if known is not None else \
            f"{path}:{lines[np.searchsorted(positions, first)]}"
        raise DataError(f"{where}: no value for {date} (a missing step); set data.missing = "
                        "\"interpolate\" to fill gaps")
    steps = np.arange(len(grid))
    for column in range(grid.shape[1]):
        known = ~np.isnan(grid[:, column])
        if not known.any():
            raise DataError(f"{path}: column {columns[column]!r} has no values")
        grid[:, column] = np.interp(steps, steps[known], grid[known, column])
    all_dates = [dates[0] + i * step for i in range(len(grid))]
    return Series(all_dates, grid.astype(np.float32), columns, int(holes.sum()))
