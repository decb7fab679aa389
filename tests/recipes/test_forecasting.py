"""forecasting end to end: CSV series -> run -> MAE/RMSE beside baselines -> plot -> export ->
evaluate and predict --csv / --input, and its bad inputs. The export's round trips are the
contract test's (tests/test_recipe_contract.py); windows, baselines and steps are tested in
tests/data/test_series.py, normalisation in tests/recipes/test_forecasting_preprocessor.py."""

import json

import numpy as np
import pytest
from helpers import (
    assert_clean_failure,
    cli,
    run_expecting_failure,
    set_args,
    write,
)
from tiny_data import series_csv, tiny_forecasting

from seqtasks.recipes.forecasting import builtin as builtin


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


@pytest.mark.parametrize("step", ["weekly", "0d", "-1h", "3 parsecs"])
def test_a_step_that_is_no_duration(tmp_path, step):
    path, _, _ = series_csv(tmp_path / "s.csv", days=100)
    assert_clean_failure(run_expecting_failure("forecasting", tmp_path, tiny_forecasting(
        f"data.train={path}", f"data.step={step}")),
        f"data.step: expected \"auto\", \"row\" or a duration such as \"1d\", \"7d\", \"1h\" or "
        f"\"15min\"; found {step!r}")
