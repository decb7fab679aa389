"""forecasting's ForecastingPreprocessor: windows cut in tf.data and normalised with the
training range only (moved from tests/recipes/test_forecasting.py)."""

import numpy as np
import pytest
from tiny_data import forecasting_task, series_csv


def test_windows_cut_in_tf_data_normalised_with_the_training_range_only(tmp_path):
    path, _, values = series_csv(tmp_path / "s.csv", days=400)
    task = forecasting_task(path)
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
