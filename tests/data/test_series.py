"""The CSV time-series reader against hand-written files; the forecasting recipe's windows and
baselines against NumPy, and its step (business days, rows, durations)."""

import numpy as np
import pytest
from helpers import write
from tiny_data import forecasting_task, series_csv

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


# ----- the forecasting recipe's ForecastingReader (moved from tests/recipes/test_forecasting.py)

def test_windows_and_baselines_against_numpy(tmp_path):
    """Examples, and the persistence and seasonal-naive errors of score(), recomputed by hand
    from the CSV values."""
    import tensorflow as tf

    path, dates, values = series_csv(tmp_path / "s.csv", days=2 * 365 + 30)
    test = forecasting_task(path, "data.horizon=2",
                            "data.test_start=2002-12-01").reader.splits()["test"]
    start = 2 * 365 - 31  # index of 2002-12-01 (2001 and 2002 are not leap years)
    assert dates[start].isoformat() == "2002-12-01" == test[0].where
    values = np.round(values.astype(np.float64), 2)  # the CSV keeps two decimals
    targets = np.stack([values[s:s + 2] for s in range(start, len(values) - 1)])
    np.testing.assert_allclose([e.target.values[:, 0] for e in test], targets, atol=1e-4)
    np.testing.assert_allclose([e.input[:, 0] for e in test],
                               [values[s - 14:s] for s in range(start, len(values) - 1)],
                               atol=1e-4)
    persistence = np.repeat(values[start - 1:len(values) - 2, None], 2, axis=1)
    seasonal = np.stack([values[s - 365:s - 363] for s in range(start, len(values) - 1)])
    np.testing.assert_allclose([e.target.season_ago[:, 0] for e in test], seasonal, atol=1e-4)

    zeros = lambda values: {"forecast": tf.zeros([len(values), 2])}  # noqa: E731
    task = forecasting_task(path)
    scored = task.score({"serving_default": zeros}, test, {"columns": ["value"],
                                                          "target": "value"})
    metrics = scored.metrics
    np.testing.assert_array_equal(scored.predictions, np.zeros((len(test), 2)))
    for prefix, forecast in (("", 0 * targets), ("persistence_", persistence),
                             ("seasonal_naive_", seasonal)):
        error = forecast - targets
        assert metrics[f"{prefix}mae"] == pytest.approx(np.abs(error).mean(), abs=1e-4)
        assert metrics[f"{prefix}rmse"] == pytest.approx(np.sqrt((error ** 2).mean()), abs=1e-4)
    assert metrics["windows"] == len(test)


# ----- the step: business days, rows, durations ------------------------------------------------

def trading_days_csv(path, days=400, holidays=(17, 90)):
    """Weekdays only (a few holidays left out), as a price series is traded; returns the path
    and the dates written."""
    import datetime

    dates, day = [], datetime.date(2021, 1, 4)  # a Monday
    while len(dates) < days:
        if day.weekday() < 5:
            dates.append(day)
        day += datetime.timedelta(days=1)
    dates = [d for i, d in enumerate(dates) if i not in holidays]
    values = 50 + np.cumsum(np.random.default_rng(0).normal(size=len(dates)))
    path.write_text("date,price\n" + "".join(f"{d.isoformat()},{v:.4f}\n"
                                             for d, v in zip(dates, values)))
    return path, dates


def test_trading_days_are_read_as_business_days_and_forecast_the_next_weekday(tmp_path):
    from seqtasks.recipes.forecasting.data import BUSINESS_DAY, next_date, read_series

    path, dates = trading_days_csv(tmp_path / "oil.csv")
    series = read_series(path)
    assert series.step == BUSINESS_DAY and series.filled == 2  # the two holidays
    assert len(series.dates) == len(dates) + 2
    assert all(d.weekday() < 5 for d in series.dates)
    assert dates[-1].weekday() == 4 and next_date(series).date().weekday() == 0  # Fri -> Mon

    task = forecasting_task(path, "data.window=10")
    task.build_datasets()
    assert task.summary["step"] == "business day" and task.warnings == []
    assert task.summary["interpolated_fraction"] == round(2 / (len(dates) + 2), 4)


def test_a_daily_grid_on_trading_days_warns_that_weekends_were_invented(tmp_path):
    path, dates = trading_days_csv(tmp_path / "oil.csv")
    task = forecasting_task(path, "data.window=10", "data.step=1d")
    task.build_datasets()
    steps = (dates[-1] - dates[0]).days + 1
    assert task.summary["step"] == "1 day"
    assert task.summary["filled_missing_steps"] == steps - len(dates)
    share = (steps - len(dates)) / steps
    assert share > 0.25 and task.warnings == [
        f"{path}: {steps - len(dates)} of {steps} steps ({share:.0%}) had no value and were "
        "interpolated on a grid of one 1 day; if the series has no values on those dates by "
        "nature (trading days, say), set data.step = \"row\" or the step it has"]


def test_row_steps_keep_irregular_dates_as_they_are(tmp_path):
    from seqtasks.recipes.forecasting.data import ROW, forecast_windows, read_series

    path = write(tmp_path / "irregular.csv", """
        date,value
        2024-01-01,1
        2024-01-02,2
        2024-01-09,3
        2024-01-10,
        2024-02-01,5
        """)
    series = read_series(path, step="row")
    assert series.step == ROW and [d.day for d in series.dates] == [1, 2, 9, 10, 1]
    assert series.values[:, 0].tolist() == [1, 2, 3, 4, 5] and series.filled == 1
    # the step after the last row: the last gap again (22 days)
    assert list(forecast_windows(series, path, 5))[-1][0] == "2024-02-23"
    with pytest.raises(DataError, match=r"irregular.csv:3: date 2024-01-02T00:00:00 is off "
                       r"the series' step of 7 days; set data.step"):
        read_series(path, step="7d")
