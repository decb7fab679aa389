"""forecasting end to end: CSV series -> run -> MAE/RMSE beside baselines -> plot -> export ->
predict --csv, and its bad inputs."""

import json

import numpy as np
import pytest
from helpers import (
    assert_clean_failure,
    cli,
    run_builtin_default,
    run_expecting_failure,
    run_without_seqtasks,
    set_args,
    tiny,
    write,
)

from seqtasks.data.builtin import forecasting as builtin

TINY = ["data.window=14", "train.batch_size=64"]


def tiny_forecasting(*overrides, epochs=2):
    return tiny(*TINY, *overrides, epochs=epochs)


def series_csv(path, days=3 * 365, seed=1, drop=()):
    dates, values = builtin.generate(days, seed)
    keep = [i for i in range(days) if i not in set(drop)]
    path.write_text(builtin.csv_text([dates[i] for i in keep], values[keep]))
    return path, dates, values


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("forecast")
    path, _, _ = series_csv(root / "series.csv", drop=(40, 41))
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


def test_baselines_against_numpy(tmp_path):
    """Persistence and seasonal-naive errors recomputed by hand from the CSV values."""
    import seqtasks

    path, dates, values = series_csv(tmp_path / "s.csv", days=2 * 365 + 30)
    recipe = seqtasks.get_recipe("forecasting")
    task = recipe(recipe.default_config(tiny_forecasting(f"data.train={path}", "data.horizon=2",
                                                         "data.test_start=2002-12-01")))
    task.build_datasets()
    model = task.build_model()
    forecast, actual, persistence, seasonal = task.forecasts(model)
    start = 2 * 365 - 31  # index of 2002-12-01 (2001 and 2002 are not leap years)
    assert dates[start].isoformat() == "2002-12-01"
    values = np.round(values.astype(np.float64), 2)  # the CSV keeps two decimals
    expected_actual = np.stack([values[s:s + 2] for s in range(start, len(values) - 1)])
    np.testing.assert_allclose(actual, expected_actual, atol=1e-4)
    np.testing.assert_allclose(persistence[:, 1], values[start - 1:len(values) - 2], atol=1e-4)
    np.testing.assert_allclose(seasonal[:, 0], values[start - 365:len(values) - 1 - 365],
                               atol=1e-4)


def test_padding_free_windows_and_normalisation_from_training_range_only(tmp_path):
    import seqtasks

    path, _, values = series_csv(tmp_path / "s.csv", days=400)
    recipe = seqtasks.get_recipe("forecasting")
    task = recipe(recipe.default_config(tiny_forecasting(f"data.train={path}")))
    task.build_datasets()
    validation, _ = task.steps
    rounded = np.round(values.astype(np.float64), 2)
    assert task.mean[0] == pytest.approx(rounded[:validation].mean(), abs=1e-3)
    assert task.std[0] == pytest.approx(rounded[:validation].std(), abs=1e-3)


def test_export_runs_without_seqtasks_and_matches_the_keras_model(finished_run):
    import keras

    version = finished_run / "exports" / "forecasting" / "1"
    window = np.linspace(5, 15, 14).astype(np.float32)[None]
    code = (
        "import json, numpy as np, tensorflow as tf\n"
        f"fn = tf.saved_model.load({str(version)!r}).signatures['serving_default']\n"
        f"out = fn(values=tf.constant({window.tolist()!r}, tf.float32))\n"
        "print(json.dumps(out['forecast'].numpy().tolist()))\n"
    )
    served = np.array(json.loads(run_without_seqtasks(code).strip().splitlines()[-1]))
    model = keras.models.load_model(version / "assets.extra" / "model.keras")
    assert served.shape == (1, 3)
    np.testing.assert_allclose(served, model.predict(window, verbose=0), atol=1e-4)


def test_predict_from_a_csv(finished_run, tmp_path):
    recent, _, _ = series_csv(tmp_path / "recent.csv", days=20, seed=5)
    result = cli("predict", finished_run / "exports" / "forecasting", "--csv", recent)
    assert result.exit_code == 0, result.output
    values = [float(v) for v in result.output.split()]
    assert len(values) == 3 and all(np.isfinite(values))


def test_builtin_default_beats_persistence(tmp_path):
    test, elapsed = run_builtin_default("forecasting", tmp_path)
    assert test["rmse"] < 0.95 * test["persistence_rmse"], test
    assert elapsed < 180, elapsed


# ----- bad input: one clear line, non-zero exit, no traceback, nothing half-written -----------

def test_non_numeric_value_names_file_and_line(tmp_path):
    path = write(tmp_path / "s.csv", "date,temp\n2001-01-01,3.5\n2001-01-02,warm\n")
    result = run_expecting_failure("forecasting", tmp_path, tiny_forecasting(f"data.train={path}"))
    assert_clean_failure(result, "s.csv:3", "'temp'", "expected a number", "'warm'")


def test_series_shorter_than_one_window(tmp_path):
    path, _, _ = series_csv(tmp_path / "s.csv", days=10)  # the window is 14 steps
    result = run_expecting_failure("forecasting", tmp_path, tiny_forecasting(f"data.train={path}"))
    assert_clean_failure(result, "s.csv", "10 steps are too few", "a window of 14", "data.window")


def test_missing_day_with_the_error_policy(tmp_path):
    path, _, _ = series_csv(tmp_path / "s.csv", days=100, drop=(50,))
    result = run_expecting_failure("forecasting", tmp_path, tiny_forecasting(
        f"data.train={path}", "data.missing=error"))
    assert_clean_failure(result, "s.csv:", "no value for 2001-02-20", "data.missing")


def test_predict_csv_shorter_than_the_window(finished_run, tmp_path):
    recent, _, _ = series_csv(tmp_path / "recent.csv", days=5)
    result = cli("predict", finished_run / "exports" / "forecasting", "--csv", recent)
    assert_clean_failure(result, "recent.csv", "shorter than one window of 14")
