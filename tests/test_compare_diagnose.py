"""seqtasks compare and seqtasks diagnose on the forecasting recipe (tiny)."""

import json

import numpy as np
import pytest
from helpers import assert_clean_failure, cli

from seqtasks.recipes.forecasting import builtin as builtin

TINY = ["--set", "model.units=8", "--set", "model.hidden_units=8", "--set", "data.window=20",
        "--set", "train.epochs=1"]


def series(tmp_path, days=500):
    dates, values = builtin.generate(days, seed=2)
    path = tmp_path / "s.csv"
    path.write_text(builtin.csv_text(dates, values))
    return path


def test_compare_trains_each_cell_on_the_same_data_and_writes_a_table(tmp_path):
    path = series(tmp_path)
    result = cli("compare", "forecasting", "--cells", "elman,gru", "--set", f"data.train={path}",
                 "--set", f"export.dir={tmp_path / 'x'}", *TINY, "--output", tmp_path / "cmp")
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "cmp" / "comparison.json").read_text())["rows"]
    assert [r["cell"] for r in rows] == ["elman", "gru"]
    for row in rows:
        assert row["rmse"] > 0 and row["train_seconds"] > 0
        # the same data and split for both: the baselines agree exactly
        assert row["persistence_rmse"] == rows[0]["persistence_rmse"]
    table = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "| cell |" in table and "| gru |" in table
    configs = [(tmp_path / "cmp" / c / "config.toml").read_text() for c in ("elman", "gru")]
    assert 'cell = "elman"' in configs[0] and 'cell = "gru"' in configs[1]


def test_unknown_cell_name(tmp_path):
    result = cli("compare", "forecasting", "--cells", "elman,lstn", "--output", tmp_path / "c")
    assert_clean_failure(result, "--cells", "'lstn'", "elman, lstm, gru")
    assert not (tmp_path / "c").exists()
    result = cli("run", "forecasting", "--set", "model.cell=transformer")
    assert_clean_failure(result, "model.cell", "'transformer'")


def tiny_model(units=4, steps=12, a=0.5):
    """ElmanRNN with W = [I; a I] and no bias, then a Dense readout: for small inputs
    (tanh(z) ~ z) h_T = sum_t a^(T-1-t) x_t, so d loss / d x_t shrinks like a^(T-1-t)."""
    import keras

    from seqtasks.layers import ElmanRNN

    inputs = keras.Input((steps, units))
    rnn = ElmanRNN(units, use_bias=False)
    outputs = keras.layers.Dense(1)(rnn(inputs))
    model = keras.Model(inputs, outputs)
    rnn.cell.kernel.assign(np.concatenate([np.eye(units), a * np.eye(units)]).astype("float32"))
    return model


def mean_output(y_true, y_pred):
    import keras

    return keras.ops.mean(y_pred)


def test_step_gradients_decay_like_the_recurrent_weight_to_the_distance():
    from seqtasks.diagnose import step_gradient_norms

    model = tiny_model(a=0.5)
    x = np.random.default_rng(0).normal(0, 1e-4, (8, 12, 4)).astype("float32")
    norms = step_gradient_norms(model, x, np.zeros((8, 1), "float32"), mean_output)
    expected = 0.5 ** np.arange(11, -1, -1)  # step t: a^(T-1-t)
    np.testing.assert_allclose(norms / norms[-1], expected, rtol=1e-3)


def test_step_gradients_match_finite_differences():
    from seqtasks.diagnose import step_gradient_norms

    model = tiny_model(a=0.9)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (1, 12, 4)).astype("float64")
    norms = step_gradient_norms(model, x.astype("float32"), np.zeros((1, 1)), mean_output)
    eps = 1e-2
    for t in (0, 5, 11):
        grad = []
        for j in range(4):
            up, down = x.copy(), x.copy()
            up[0, t, j] += eps
            down[0, t, j] -= eps
            diff = model.predict(up.astype("float32"), verbose=0) - \
                model.predict(down.astype("float32"), verbose=0)
            grad.append(float(diff[0, 0]) / (2 * eps))
        assert norms[t] == pytest.approx(np.linalg.norm(grad), rel=2e-2, abs=1e-5), t


def test_diagnose_writes_profiles_table_and_plot(tmp_path):
    path = series(tmp_path, days=400)
    result = cli("diagnose", "forecasting", "--set", f"data.train={path}", "--set",
                 "data.window=30", "--set", "model.units=16", "--epochs", "1",
                 "--output", tmp_path / "d")
    assert result.exit_code == 0, result.output
    assert "steps back" in result.output and "gradient at 30 steps back" in result.output
    profiles = json.loads((tmp_path / "d" / "diagnose.json").read_text())["profiles"]
    assert set(profiles) == {"elman (1 epochs)", "lstm (1 epochs)"}
    assert all(len(p) == 30 and all(v >= 0 for v in p) for p in profiles.values())
    assert (tmp_path / "d" / "diagnose.png").read_bytes().startswith(b"\x89PNG")


def test_diagnose_refuses_a_recipe_without_a_diagnostic():
    assert_clean_failure(cli("diagnose", "smart_reply"), "smart_reply", "no diagnostic")
