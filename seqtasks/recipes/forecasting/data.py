"""Read a time series from a CSV file: a date column and one or more numeric value columns.

Rows must be in increasing date order, one per step (daily data: one per day). A step with no
row, or a row whose value cell is empty or ``NA``, is *missing*; the ``missing`` policy decides:

* ``"interpolate"`` (default): linear interpolation between the neighbouring observed values
  (a gap at the very start or end takes the nearest observed value); the number of filled
  steps is reported;
* ``"error"``: the first missing step is an error naming the file, line and date.

The step (``data.step``): ``"auto"`` takes the most common difference between consecutive dates
(a day for daily data), or a business day when every date is a weekday and weekends are
skipped (trading days: a Friday is followed by a Monday, not by a missing Saturday); ``"row"``
makes every row one step whatever its date (irregular series); a duration (``"1d"``, ``"7d"``,
``"1h"``, ``"15min"``) fixes the grid. Every error names the file and line.
:func:`split_windows` splits a series by date into ``(window, what follows)`` pairs, one per
target step, :func:`forecast_windows` gives the windows to forecast from and
:func:`forecast_errors` scores forecasts beside the persistence and seasonal-naive baselines.
"""

from __future__ import annotations

import collections
import datetime
import re

import numpy as np

from seqtasks.data.readers import delimited_rows, read_text
from seqtasks.errors import ConfigError, DataError
from seqtasks.recipes.base import Example
from seqtasks.recipes.reader import Reader

#: ``step``: a ``datetime.timedelta``, ``BUSINESS_DAY`` or ``ROW`` (every row one step).
Series = collections.namedtuple("Series", "dates values columns filled step")
BUSINESS_DAY, ROW = "business day", "row"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(min|h|d|w)\s*$")
_UNITS = {"min": datetime.timedelta(minutes=1), "h": datetime.timedelta(hours=1),
          "d": datetime.timedelta(days=1), "w": datetime.timedelta(weeks=1)}


def parse_step(text):
    """``data.step`` -> ``"auto"``, :data:`ROW` or a ``timedelta``; a :class:`ConfigError`
    for anything else."""
    if text in ("auto", ROW):
        return text
    match = _DURATION.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"data.step: expected \"auto\", \"row\" or a duration such as "
                          f"\"1d\", \"7d\", \"1h\" or \"15min\"; found {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def describe_step(step):
    """A step as people say it: ``1 day``, ``business day``, ``row``, ``1:00:00``."""
    if isinstance(step, str):
        return step
    days = step.total_seconds() / 86400
    return f"{days:g} day{'s' if days != 1 else ''}" if days == int(days) else str(step)


def _business_days(dates):
    """Whether ``dates`` (midnights) look like a business-day calendar: all weekdays, mostly
    one day apart, and weekends skipped at least once."""
    if len(dates) < 3 or any(d.weekday() > 4 or d.time() != datetime.time() for d in dates):
        return False
    gaps = [(b - a).days for a, b in zip(dates, dates[1:])]
    weekend = any(g == 3 and b.weekday() == 0 for g, b in zip(gaps, dates[1:]))
    return weekend and collections.Counter(gaps).most_common(1)[0][0] == 1
#: What follows a window: the next ``horizon`` steps of every column (``values``), and the same
#: steps one season earlier (``season_ago``; NaN where that is before the series starts).
Future = collections.namedtuple("Future", "values season_ago")
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


def read_series(path, time_column=0, value_columns=None, missing="interpolate",
                step="auto"):
    """The :class:`Series` of a CSV file with a header row.

    ``time_column``: name or 0-based index of the date column. ``value_columns``: names or
    indices of the value columns (default: every other column). Returns ``dates`` (a list of
    ``datetime``, one per step, gaps filled), ``values`` (``float32 [steps, columns]``),
    ``columns`` (their names), ``filled`` (how many missing steps were interpolated) and
    ``step`` (see :func:`parse_step`; ``"auto"`` resolved).
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
                    [header[i] for i in value_indices], missing, parse_step(step))


def _regular(path, dates, values, lines, columns, missing, step="auto"):
    """Place the rows on a grid of steps and fill the missing steps."""
    if step == "auto" and _business_days(dates):
        step = BUSINESS_DAY
    elif step == "auto":
        gaps = collections.Counter(b - a for a, b in zip(dates, dates[1:]))
        step = gaps.most_common(1)[0][0] if gaps else datetime.timedelta(days=1)
    if step == ROW:
        positions = list(range(len(dates)))
    elif step == BUSINESS_DAY:
        days = np.array([d.date() for d in dates], dtype="datetime64[D]")
        for date, line, day in zip(dates, lines, days):
            if not np.is_busday(day):
                raise DataError(f"{path}:{line}: date {date.date().isoformat()} is a weekend "
                                "day in a series of business days; set data.step")
        positions = np.busday_count(days[0], days).tolist()
    else:
        positions = []
        for date, line in zip(dates, lines):
            offset = (date - dates[0]) / step
            if abs(offset - round(offset)) > 1e-9:
                raise DataError(f"{path}:{line}: date {date.isoformat()} is off the series' "
                                f"step of {describe_step(step)}; set data.step")
            positions.append(round(offset))
    grid = np.full((positions[-1] + 1, values.shape[1]), np.nan)
    grid[positions] = values
    holes = np.isnan(grid).any(axis=1)
    if holes.any() and missing == "error":
        first = int(np.argmax(holes))
        date = _step_date(dates, step, first).date().isoformat()
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
    all_dates = dates if step == ROW else [_step_date(dates, step, i) for i in range(len(grid))]
    return Series(all_dates, grid.astype(np.float32), columns, int(holes.sum()), step)


def _step_date(dates, step, i):
    """The date of step ``i`` of a grid starting at ``dates[0]`` (past the end for ``row``:
    the last gap again)."""
    if step == ROW:
        return dates[i] if i < len(dates) else dates[-1] + (i - len(dates) + 1) * (
            dates[-1] - dates[-2] if len(dates) > 1 else datetime.timedelta(days=1))
    if step == BUSINESS_DAY:
        day = np.busday_offset(np.datetime64(dates[0].date(), "D"), i, roll="forward")
        return datetime.datetime.combine(day.astype(datetime.date), datetime.time())
    return dates[0] + i * step


def next_date(series):
    """The date of the step after the series' last one."""
    return _step_date(series.dates, series.step, len(series.dates))


def load_series(spec, data, seed=0):
    """``(series, source)``: the CSV file ``spec`` read as the ``data`` configuration section
    says (``time_column``, ``value_columns``, ``missing``), or the built-in series (generated
    with ``seed``) when ``spec`` is None."""
    if spec is None:
        from seqtasks.recipes.forecasting import builtin as builtin

        dates, values = builtin.generate(seed=seed)
        dates = [datetime.datetime.combine(d, datetime.time()) for d in dates]
        return Series(dates, values[:, None], ["value"], 0, datetime.timedelta(days=1)), \
            "built-in series"
    if not isinstance(spec, str) or spec.startswith("tfds:"):
        raise ConfigError(f"data.train: expected a CSV file, found {spec!r}")
    return read_series(spec, data["time_column"], data["value_columns"], data["missing"],
                       data["step"]), spec


def season_steps(step):
    """Steps per season for the seasonal-naive baseline, from the series' step: 365 daily, 52
    weekly, 12 monthly, 24 hourly, 5 (a week) for business days, else 1."""
    if step == BUSINESS_DAY:
        return 5
    if step == ROW:
        return 1
    days = step.total_seconds() / 86400
    if abs(days - 1) < 1e-9:
        return 365
    if abs(days - 7) < 1e-9:
        return 52
    if 28 <= days <= 31:
        return 12
    if abs(days * 24 - 1) < 1e-9:
        return 24
    return 1


def split_steps(series, source, window, horizon, test_start=None, test_fraction=0.1,
                validation_fraction=0.1):
    """``(validation, test)``: the first target step of the validation and test ranges. The
    test range starts at the date ``test_start`` or covers the last ``test_fraction`` of the
    steps; validation is the last ``validation_fraction`` of the targets before it."""
    steps = len(series.dates)
    if test_start is not None:
        try:
            start = datetime.datetime.fromisoformat(str(test_start))
        except ValueError:
            raise ConfigError(f"data.test_start: expected a date like 1990-01-01, found "
                              f"{test_start!r}") from None
        test = next((i for i, d in enumerate(series.dates) if d >= start), steps)
    else:
        test = steps - max(int(steps * test_fraction), horizon)
    validation = test - max(int((test - window) * validation_fraction), 1)
    if validation - window < 1 or steps - test < horizon:
        raise DataError(
            f"{source}: {steps} steps are too few for a window of {window}, a horizon of "
            f"{horizon} and training, validation and test ranges; need more data or a "
            "smaller data.window")
    return validation, test


def split_windows(series, source, data):
    """``{"train" | "validation" | "test": [(date, window, future)]}``: one triple per target
    step of each range, as the ``data`` configuration section splits and cuts (``window``,
    ``horizon``, ``season``, ``test_start``, ``test_fraction``, ``validation_fraction``): its
    date as ISO text, the ``[window, columns]`` steps before it and its :class:`Future`, views
    of ``series.values``. ``season`` steps (0: :func:`season_steps`) separate a step from its
    ``season_ago``."""
    window, horizon = data["window"], data["horizon"]
    validation, test = split_steps(series, source, window, horizon, data["test_start"],
                                   data["test_fraction"], data["validation_fraction"])
    season = data["season"] or season_steps(series.step)
    values, ranges = series.values, {"train": (window, validation),
                                     "validation": (validation, test),
                                     "test": (test, len(series.dates))}
    splits = {}
    for name, (first, stop) in ranges.items():
        splits[name] = []
        for s in range(first, stop - horizon + 1):
            back = np.arange(s, s + horizon) - season
            ago = np.where((back >= 0)[:, None], values[np.maximum(back, 0)], np.nan)
            splits[name].append((stamp(series.dates[s]), values[s - window:s],
                                 Future(values[s:s + horizon], ago)))
    return splits


def forecast_windows(series, source, window):
    """Yield ``(date, window)`` for every window of ``series``, ``date`` (ISO text) the step
    it forecasts, the last one past the end of the series; a one-column ``window`` is
    ``[window]``, else ``[window, columns]``."""
    steps = len(series.dates)
    if steps < window:
        raise DataError(f"{source}: {steps} steps, shorter than one window of {window}; the "
                        f"model needs the last {window} steps")
    for s in range(window, steps + 1):
        values = series.values[s - window:s]
        date = series.dates[s] if s < steps else next_date(series)
        yield stamp(date), values[:, 0] if values.shape[1] == 1 else values


def check_columns(windows, columns):
    """Raise :class:`DataError` unless the ``windows`` have one value column per name in
    ``columns`` (a model's): a file read with other columns cannot be scored."""
    for w in windows:
        if w.shape[-1] != len(columns):
            raise DataError(f"{w.shape[-1]} value columns, but the model reads {len(columns)} "
                            f"({', '.join(columns)}); pick them with --set data.value_columns")


def forecast_errors(forecast, windows, futures, column):
    """``(metrics, lines)``: ``mae`` and ``rmse`` of ``forecast [n, horizon]`` beside
    persistence (each window's last value) and seasonal naive (a season earlier; NaN steps
    skipped), for the ``column`` of the ``windows`` and :class:`Future` s; ``lines`` are the
    first forecast step of each against the actual values (for a plot)."""
    actual = np.stack([f.values[:, column] for f in futures])
    persistence = np.repeat(np.stack([w[-1, column] for w in windows])[:, None],
                            actual.shape[1], axis=1)
    seasonal = np.stack([f.season_ago[:, column] for f in futures])
    metrics = {}
    for prefix, prediction in (("", forecast), ("persistence_", persistence),
                               ("seasonal_naive_", seasonal)):
        ok = ~np.isnan(prediction)
        if ok.any():
            error = prediction[ok] - actual[ok]
            metrics[f"{prefix}mae"] = round(float(np.abs(error).mean()), 6)
            metrics[f"{prefix}rmse"] = round(float(np.sqrt((error ** 2).mean())), 6)
    metrics["windows"] = len(actual)
    lines = {"actual": actual[:, 0], "forecast": forecast[:, 0], "persistence": persistence[:, 0]}
    return metrics, lines


def error_table(metrics):
    """Lines of a table of the :func:`forecast_errors` metrics: model and baselines."""
    lines = ["  forecast           MAE      RMSE"]
    for label, prefix in (("model", ""), ("persistence", "persistence_"),
                          ("seasonal naive", "seasonal_naive_")):
        if f"{prefix}mae" in metrics:
            lines.append(f"  {label:15} {metrics[f'{prefix}mae']:8.3f}  "
                         f"{metrics[f'{prefix}rmse']:8.3f}")
    return lines


def stamp(date):
    """A step's date as ISO text: the day alone for a step at midnight."""
    return date.date().isoformat() if date.time() == datetime.time() else date.isoformat()


#: Above this share of interpolated steps, the run warns that the step may be wrong.
MOST_INTERPOLATED = 0.1


class ForecastingReader(Reader):
    """One CSV series (or the built-in one), its windows split by date into the three splits
    (:meth:`splits`); ``seqtasks predict --input`` reads every window of a series."""

    streams = False  # a series is small and windows are cut from it whole
    #: The series :meth:`splits` read (:class:`Series`).
    series = None

    def cut(self, series, source):
        """``{split: [Example]}``: one example per target step, the series split by date."""
        return {split: [Example(x, future, date) for date, x, future in triples]
                for split, triples in split_windows(series, source, self.config["data"]).items()}

    def splits(self):
        data = self.config["data"]
        for key in ("validation", "test"):
            if data[key] is not None:
                raise ConfigError(f"data.{key}: forecasting splits one series by date; give "
                                  "the whole series as data.train and set data.test_start")
        self.series, source = load_series(data["train"], data, self.config["train"]["seed"])
        share = self.series.filled / len(self.series.dates)
        if share > MOST_INTERPOLATED:
            self.warnings.append(
                f"{source}: {self.series.filled} of {len(self.series.dates)} steps ({share:.0%}) "
                f"had no value and were interpolated on a grid of one "
                f"{describe_step(self.series.step)}; if the series has no values on those "
                "dates by nature (trading days, say), set data.step = \"row\" or the step "
                "it has")
        return self.cut(self.series, source)

    def read_file(self, path, split):
        """The ``split`` range of the CSV series at ``path``, split by date as in training."""
        return self.cut(*load_series(path, self.config["data"]))[split]

    def prediction_inputs(self, path):
        """Every window of the CSV series at ``path``, named by the date it forecasts; the last
        one forecasts past the end of the file (``predict --csv`` prints that one). The series
        is read whole (gaps are filled from both sides), the windows yielded one at a time."""
        series, _ = load_series(path, self.config["data"])
        for date, values in forecast_windows(series, path, self.config["data"]["window"]):
            yield date, {"values": values}

    def raw_inputs(self, examples):
        """The signature's ``values``: ``[n, window]``, or ``[n, window, columns]`` for
        several value columns."""
        values = np.stack([e.input for e in examples]).astype(np.float32)
        return {"values": values[..., 0] if values.shape[-1] == 1 else values}

    def format_prediction(self, inputs, outputs):
        return [" ".join(f"{v:.4f}" for v in row) for row in outputs["forecast"]]
