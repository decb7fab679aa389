"""Read a time series from a CSV file: a date column and one or more numeric value columns.

Rows must be in increasing date order. A step with no row, or a row whose value cell is empty or
``NA``, is *missing*; ``data.missing`` decides: ``"interpolate"`` (default: linear between the
observed neighbours, the nearest value at either end) or ``"error"``. ``data.step`` is
``"auto"`` (the most common gap between dates, or business days when weekends are skipped),
``"row"`` (every row one step) or a duration (``"1d"``, ``"1h"``, ``"15min"``). Every error
names the file and line. :func:`split_windows` cuts a series into ``(window, what follows)``
pairs and :func:`forecast_errors` scores forecasts beside the naive baselines.
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
#: What follows a window: the next ``horizon`` steps of every column (``values``), and the same
#: steps one season earlier (``season_ago``; NaN where that is before the series starts).
Future = collections.namedtuple("Future", "values season_ago")
BUSINESS_DAY, ROW = "business day", "row"
MISSING_CELLS = {"", "na", "nan", "n/a", "null", "?"}
#: Above this share of interpolated steps, the run warns that the step may be wrong.
MOST_INTERPOLATED = 0.1
#: The forecasts :func:`forecast_errors` scores: label -> prefix of its metrics.
_FORECASTS = {"model": "", "persistence": "persistence_", "seasonal naive": "seasonal_naive_"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(min|h|d|w)\s*$")
_UNITS = {"min": datetime.timedelta(minutes=1), "h": datetime.timedelta(hours=1),
          "d": datetime.timedelta(days=1), "w": datetime.timedelta(weeks=1)}


def parse_step(text):
    """``data.step`` -> ``"auto"``, :data:`ROW` or a ``timedelta``; else a :class:`ConfigError`."""
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
    """Whether ``dates`` look like business days: weekday midnights, mostly one day apart, and
    a weekend skipped at least once."""
    if len(dates) < 3 or any(d.weekday() > 4 or d.time() != datetime.time() for d in dates):
        return False
    gaps = [(b - a).days for a, b in zip(dates, dates[1:])]
    weekend = any(g == 3 and b.weekday() == 0 for g, b in zip(gaps, dates[1:]))
    return weekend and collections.Counter(gaps).most_common(1)[0][0] == 1


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
        except ValueError:
            continue
        if isinstance(value, datetime.datetime):
            return value
        return datetime.datetime.combine(value, datetime.time())
    raise DataError(f"{path}:{line}: expected a date like 1990-01-31, found {text!r}")


def read_series(path, time_column=0, value_columns=None, missing="interpolate",
                step="auto"):
    """The :class:`Series` of a CSV file with a header row.

    ``time_column``: name or 0-based index of the date column; ``value_columns``: names or
    indices of the value columns (default: every other column). The series has a date per
    step (gaps filled), ``float32 [steps, columns]`` values, the columns' names, how many
    steps were filled and the step (:func:`parse_step`, ``"auto"`` resolved).
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
            try:
                record.append(np.nan if cell.lower() in MISSING_CELLS else float(cell))
            except ValueError:
                raise DataError(f"{path}:{line}: column {header[index]!r}: expected a number, "
                                f"found {cell!r}") from None
        values.append(record)
        dates.append(date)
        lines.append(line)
    if not dates:
        raise DataError(f"{path}: no rows after the header")
    return _regular(path, dates, np.array(values, np.float64), lines,
                    [header[i] for i in value_indices], missing, parse_step(step))


def _positions(path, dates, lines, step):
    """The step index of each row on a grid of ``step`` (resolved) from ``dates[0]``."""
    if step == ROW:
        return list(range(len(dates)))
    if step == BUSINESS_DAY:  # only ever detected (_business_days): every date a weekday
        days = np.array([d.date() for d in dates], dtype="datetime64[D]")
        return np.busday_count(days[0], days).tolist()
    positions = []
    for date, line in zip(dates, lines):
        offset = (date - dates[0]) / step
        if abs(offset - round(offset)) > 1e-9:
            raise DataError(f"{path}:{line}: date {date.isoformat()} is off the series' "
                            f"step of {describe_step(step)}; set data.step")
        positions.append(round(offset))
    return positions


def _regular(path, dates, values, lines, columns, missing, step="auto"):
    """Place the rows on a grid of steps and fill the missing steps."""
    if step == "auto" and _business_days(dates):
        step = BUSINESS_DAY
    elif step == "auto":
        gaps = collections.Counter(b - a for a, b in zip(dates, dates[1:]))
        step = gaps.most_common(1)[0][0] if gaps else datetime.timedelta(days=1)
    positions = _positions(path, dates, lines, step)
    grid = np.full((positions[-1] + 1, values.shape[1]), np.nan)
    grid[positions] = values
    holes = np.isnan(grid).any(axis=1)
    if holes.any() and missing == "error":
        first = int(np.argmax(holes))  # its row, or the next row after a step with none
        date = _step_date(dates, step, first).date().isoformat()
        raise DataError(f"{path}:{lines[np.searchsorted(positions, first)]}: no value for "
                        f"{date} (a missing step); set data.missing = \"interpolate\" to fill "
                        "gaps")
    steps = np.arange(len(grid))
    for column in range(grid.shape[1]):
        known = ~np.isnan(grid[:, column])
        if not known.any():
            raise DataError(f"{path}: column {columns[column]!r} has no values")
        grid[:, column] = np.interp(steps, steps[known], grid[known, column])
    all_dates = dates if step == ROW else [_step_date(dates, step, i) for i in range(len(grid))]
    return Series(all_dates, grid.astype(np.float32), columns, int(holes.sum()), step)


def _step_date(dates, step, i):
    """The date of step ``i`` of a grid from ``dates[0]`` (``row`` past the end: the last gap
    again)."""
    if step == ROW:
        if i < len(dates):
            return dates[i]
        gap = dates[-1] - dates[-2] if len(dates) > 1 else datetime.timedelta(days=1)
        return dates[-1] + (i - len(dates) + 1) * gap
    if step == BUSINESS_DAY:
        day = np.busday_offset(np.datetime64(dates[0].date(), "D"), i, roll="forward")
        return datetime.datetime.combine(day.astype(datetime.date), datetime.time())
    return dates[0] + i * step


def next_date(series):
    """The date of the step after the series' last one."""
    return _step_date(series.dates, series.step, len(series.dates))


def load_series(spec, data, seed=0):
    """``(series, source)``: the CSV file ``spec`` read as the ``data`` section says, or the
    built-in series (generated with ``seed``) when ``spec`` is None."""
    if spec is None:
        from seqtasks.recipes.forecasting import builtin

        dates, values = builtin.generate(seed=seed)
        dates = [datetime.datetime.combine(d, datetime.time()) for d in dates]
        return Series(dates, values[:, None], ["value"], 0, datetime.timedelta(days=1)), \
            "built-in series"
    if not isinstance(spec, str) or spec.startswith("tfds:"):
        raise ConfigError(f"data.train: expected a CSV file, found {spec!r}")
    return read_series(spec, data["time_column"], data["value_columns"], data["missing"],
                       data["step"]), spec


def season_steps(step):
    """Steps per season for the seasonal-naive baseline: 365 daily, 52 weekly, 12 monthly, 24
    hourly, 5 for business days, else 1."""
    if step == BUSINESS_DAY:
        return 5
    if step == ROW:
        return 1
    days = step.total_seconds() / 86400
    for season, distance in ((365, days - 1), (52, days - 7), (24, days * 24 - 1)):
        if abs(distance) < 1e-9:
            return season
    return 12 if 28 <= days <= 31 else 1


def split_steps(series, source, window, horizon, test_start=None, test_fraction=0.1,
                validation_fraction=0.1):
    """``(validation, test)``: the first target step of each range. Test starts at the date
    ``test_start`` or covers the last ``test_fraction`` of the steps; validation is the last
    ``validation_fraction`` of the targets before it."""
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
    step, the ranges as the ``data`` section sets them: the date as ISO text, the ``[window,
    columns]`` steps before it and its :class:`Future` (``season`` steps back, 0:
    :func:`season_steps`), views of ``series.values``."""
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
    """Yield ``(date, window)`` for every window of ``series``, ``date`` (ISO text) the step it
    forecasts, the last past the end; ``window`` is ``[window]`` for one column, else
    ``[window, columns]``."""
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
    ``columns`` (a model's)."""
    for w in windows:
        if w.shape[-1] != len(columns):
            raise DataError(f"{w.shape[-1]} value columns, but the model reads {len(columns)} "
                            f"({', '.join(columns)}); pick them with data.value_columns")


def forecast_errors(forecast, windows, futures, column):
    """``(metrics, lines)``: ``mae`` and ``rmse`` of ``forecast [n, horizon]`` and of the
    persistence and seasonal-naive baselines (NaN steps skipped) on ``column``; ``lines``: the
    first step of each against the actual values (for a plot)."""
    actual = np.stack([f.values[:, column] for f in futures])
    persistence = np.repeat(np.stack([w[-1, column] for w in windows])[:, None],
                            actual.shape[1], axis=1)
    seasonal = np.stack([f.season_ago[:, column] for f in futures])
    metrics = {}
    for prefix, prediction in zip(_FORECASTS.values(), (forecast, persistence, seasonal)):
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
    for label, prefix in _FORECASTS.items():
        if f"{prefix}mae" in metrics:
            lines.append(f"  {label:15} {metrics[f'{prefix}mae']:8.3f}  "
                         f"{metrics[f'{prefix}rmse']:8.3f}")
    return lines


def stamp(date):
    """A step's date as ISO text: the day alone for a step at midnight."""
    return date.date().isoformat() if date.time() == datetime.time() else date.isoformat()


class ForecastingReader(Reader):
    """One CSV series (or the built-in one), its windows split by date; ``seqtasks predict
    --input`` reads every window of a series."""

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
        """Every window of the CSV series at ``path`` (read whole), named by the date it
        forecasts; the last one forecasts past the end of the file."""
        series, _ = load_series(path, self.config["data"])
        for date, values in forecast_windows(series, path, self.config["data"]["window"]):
            yield date, {"values": values}

    def raw_inputs(self, examples):
        """The signature's ``values``: ``[n, window]``, or ``[n, window, columns]``."""
        values = np.stack([e.input for e in examples]).astype(np.float32)
        return {"values": values[..., 0] if values.shape[-1] == 1 else values}

    def format_prediction(self, inputs, outputs):
        return [" ".join(f"{v:.4f}" for v in row) for row in outputs["forecast"]]
