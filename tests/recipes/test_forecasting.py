"""forecasting end to end: CSV series -> run -> MAE/RMSE beside baselines -> plot -> export ->
evaluate and predict --csv / --input, and its bad inputs. The export's round trips are the
contract test's (tests/test_recipe_contract.py)."""

import json

import numpy as np
import pytest
from helpers import (
    assert_clean_failure,
    cli,
    run_expecting_failure,
    set_args,
    tiny,
    write,
)

from seqtasks.errors import DataError
from seqtasks.recipes.forecasting import builtin as builtin

TINY = ["data.window=14", "train.batch_size=64"]


def tiny_forecasting(*overrides, epochs=2):
    return [o for o in tiny(*TINY, *overrides, epochs=epochs)
            if not o.startswith("model.embedding_dim")]  # nothing is embedded


def series_csv(path, days=3 * 365, seed=1, drop=()):
    dates, values = builtin.generate(days, seed)
    keep = [i for i in range(days) if i not in set(drop)]
    path.write_text(builtin.csv_text([dates[i] for i in keep], values[keep]))
    return path, dates, values


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("forecast")
    path, _, _ = series_csv(root / "series.csv", drop=(40, 41))  # two missing days
    overrides = tiny_forecasting(f"data.train={path}", "data.horizon=3",
                                 f"export.dir={root / 'exports'}", "data.test_start=2003-07-01")
    result = cli("run", "forecasting", *set_args(overrides), "--output", root / "run")
    assert result.exit_code == 0, result.output
    assert "persistence" in result.output
    return root


def test_run_reports_errors_beside_persistence_and_seasonal_naive(finished_run):
    metrics = json.loads((finished_run / "run" / "metrics.json").read_text())
    test, data = metrics["test"], metrics["data"]
    for key in ("mae", "rmse", "persistence_mae", "persistence_rmse", "seasonal_naive_mae",
                "seasonal_naive_rmse"):
        assert test[key] > 0, key
    assert data["filled_missing_steps"] == 2
    assert data["test_range"] == ["2003-07-01", "2003-12-31"]
    # 184 test days, horizon 3: 182 windows whose targets stay inside the test range
    assert test["windows"] == 182
    png = (finished_run / "run" / "forecast.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_evaluate_on_the_series_gives_the_run_test_metrics(finished_run, tmp_path):
    """The CSV run (missing days, horizon 3, test_start) scored again through the export."""
    result = cli("evaluate", finished_run / "run", "--data", finished_run / "series.csv",
                 "--output", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    scored = json.loads((tmp_path / "ev" / "metrics.json").read_text())["test"]
    assert scored == json.loads((finished_run / "run" / "metrics.json").read_text())["test"]
    # the run's report and plot, from the export alone
    from seqtasks.recipes.forecasting.data import error_table

    assert all(line in result.output.splitlines() for line in error_table(scored))
    assert (tmp_path / "ev" / "forecast.png").read_bytes().startswith(b"\x89PNG")


def task_on(path, *overrides):
    import seqtasks

    recipe = seqtasks.get_recipe("forecasting")
    return recipe(recipe.default_config(tiny_forecasting(f"data.train={path}", *overrides)))


def test_windows_and_baselines_against_numpy(tmp_path):
    """Examples, and the persistence and seasonal-naive errors of score(), recomputed by hand
    from the CSV values."""
    import tensorflow as tf

    path, dates, values = series_csv(tmp_path / "s.csv", days=2 * 365 + 30)
    test = task_on(path, "data.horizon=2", "data.test_start=2002-12-01").reader.splits()["test"]
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
    task = task_on(path)
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


def test_windows_cut_in_tf_data_normalised_with_the_training_range_only(tmp_path):
    path, _, values = series_csv(tmp_path / "s.csv", days=400)
    task = task_on(path)
    datasets = task.build_datasets()
    validation = 14 + len(task.splits["train"])  # the first validation target (horizon 1)
    p, rounded = task.preprocessor, np.round(values.astype(np.float64), 2)
    assert p.mean[0] == pytest.approx(rounded[:validation].mean(), abs=1e-3)
    assert p.std[0] == pytest.approx(rounded[:validation].std(), abs=1e-3)
    x, y = next(iter(datasets["validation"]))
    n = len(task.splits["validation"])  # fewer than a batch
    assert x.shape == (n, 14, 1) and y.shape == (n, 1)
    windows = np.stack([rounded[validation - 14 + i:validation + i] for i in range(n)])
    np.testing.assert_allclose(x[:, :, 0], (windows - p.mean[0]) / p.std[0], atol=1e-4)
    np.testing.assert_allclose(y[:, 0], (rounded[validation:validation + n] - p.mean[0])
                               / p.std[0], atol=1e-4)


def test_predict_from_a_csv(finished_run, tmp_path):
    recent, _, _ = series_csv(tmp_path / "recent.csv", days=20, seed=5)
    result = cli("predict", finished_run / "exports" / "forecasting", "--csv", recent)
    assert result.exit_code == 0, result.output
    values = [float(v) for v in result.output.split()]
    assert len(values) == 3 and all(np.isfinite(values))
    # --input: every window, named by the date it forecasts; the last one is --csv's
    out = tmp_path / "forecasts.jsonl"
    result = cli("predict", finished_run / "exports" / "forecasting", "--input", recent,
                 "--output", out)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["where"] for r in (rows[0], rows[-1])] == ["2001-01-15", "2001-01-21"]
    assert len(rows) == 20 - 14 + 1
    np.testing.assert_allclose(rows[-1]["forecast"], values, atol=1e-4)


def test_several_value_columns_and_a_target_column(tmp_path):
    """values [None, window, columns] -> forecast of the target column, in its units."""
    dates, values = builtin.generate(500, seed=3)
    rows = [f"{d},{v:.2f},{2 * v + 100:.2f}" for d, v in zip(dates, values)]
    path = write(tmp_path / "two.csv", "date,a,b\n" + "\n".join(rows) + "\n")
    root = tmp_path / "run"
    overrides = tiny_forecasting(f"data.train={path}", "data.target_column=b",
                                 f"export.dir={tmp_path / 'x'}", epochs=1)
    result = cli("run", "forecasting", *set_args(overrides), "--output", root)
    assert result.exit_code == 0, result.output
    metrics = json.loads((root / "metrics.json").read_text())
    assert metrics["data"]["target"] == "b" and metrics["data"]["columns"] == ["a", "b"]
    b = np.array([float(f"{2 * v + 100:.2f}") for v in values])[449:]  # test range, and before
    assert metrics["test"]["persistence_mae"] == pytest.approx(np.abs(np.diff(b)).mean(),
                                                               abs=1e-4)
    signature = json.loads((tmp_path / "x" / "forecasting" / "1" / "assets.extra" /
                            "seqtasks.json").read_text())
    assert signature["columns"] == ["a", "b"] and signature["target"] == "b"
    result = cli("predict", tmp_path / "x" / "forecasting", "--csv", path)
    assert result.exit_code == 0, result.output
    assert 100 < float(result.output.split()[0]) < 160


# ----- bad input: one clear line, non-zero exit, no traceback, nothing half-written -----------

def test_predict_csv_shorter_than_the_window(finished_run, tmp_path):
    recent, _, _ = series_csv(tmp_path / "recent.csv", days=5)
    result = cli("predict", finished_run / "exports" / "forecasting", "--csv", recent)
    assert_clean_failure(result, "recent.csv", "shorter than one window of 14")


def test_predict_csv_with_more_value_columns_than_the_model_reads(finished_run, tmp_path):
    dates, values = builtin.generate(30, seed=6)
    path = write(tmp_path / "two.csv", "date,a,b\n" + "".join(
        f"{d},{v:.2f},{v + 1:.2f}\n" for d, v in zip(dates, values)))
    export = finished_run / "exports" / "forecasting"
    assert_clean_failure(cli("predict", export, "--csv", path), "two.csv",
                         "input 'values' has shape [14, 2]", "expects [14]")
    assert_clean_failure(cli("predict", export, "--input", path, "--output", tmp_path / "o.jsonl"),
                         "input 'values' has shape [14, 2]")
    assert not (tmp_path / "o.jsonl").exists()


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

    task = task_on(path, "data.window=10")
    task.build_datasets()
    assert task.summary["step"] == "business day" and task.warnings == []
    assert task.summary["interpolated_fraction"] == round(2 / (len(dates) + 2), 4)


def test_a_daily_grid_on_trading_days_warns_that_weekends_were_invented(tmp_path):
    path, dates = trading_days_csv(tmp_path / "oil.csv")
    task = task_on(path, "data.window=10", "data.step=1d")
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


@pytest.mark.parametrize("step", ["weekly", "0d", "-1h", "3 parsecs"])
def test_a_step_that_is_no_duration(tmp_path, step):
    path, _, _ = series_csv(tmp_path / "s.csv", days=100)
    assert_clean_failure(run_expecting_failure("forecasting", tmp_path, tiny_forecasting(
        f"data.train={path}", f"data.step={step}")),
        f"data.step: expected \"auto\", \"row\" or a duration such as \"1d\", \"7d\", \"1h\" or "
        f"\"15min\"; found {step!r}")
