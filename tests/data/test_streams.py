"""Stateful-training windows against the stream they were cut from; a tiny language model's
stateful windows and diagnostic against a stateless copy reading the whole stream, and its
training ids on disk against those in memory."""

import json

import numpy as np
import pytest
from helpers import cli, set_args
from tiny_data import lm_task, stateless_copy, tiny_lm

from seqtasks.recipes.language_model.streams import tbptt_windows, window_dataset


def test_rows_continue_across_windows_and_targets_are_shifted():
    ids = np.arange(1000) * 7 % 97
    inputs, targets = tbptt_windows(ids, batch_size=4, bptt=10)
    per_stream = 999 // 4  # 249 tokens each, 24 full windows of 10
    assert inputs.shape == targets.shape == (24, 4, 10)
    for row in range(4):
        start = row * per_stream
        np.testing.assert_array_equal(np.concatenate(list(inputs[:, row])),
                                      ids[start:start + 240])
        np.testing.assert_array_equal(np.concatenate(list(targets[:, row])),
                                      ids[start + 1:start + 241])


def test_too_short_a_stream():
    with pytest.raises(ValueError, match="20 tokens are too few for one window of 4 streams x "
                                         "10 steps"):
        tbptt_windows(np.arange(20), batch_size=4, bptt=10)


def test_windows_read_from_a_memory_map_are_the_same(tmp_path):
    """window_dataset reads the windows one at a time from a file; each row continues the
    text where the previous window of that row stopped (the same reference as above)."""
    ids = (np.arange(1000) * 7 % 97).astype(np.int32)
    ids.tofile(tmp_path / "ids")
    mapped = np.memmap(tmp_path / "ids", np.int32, "r")
    dataset = window_dataset(mapped, batch_size=4, bptt=10)
    assert int(dataset.cardinality()) == 24
    windows = list(dataset.as_numpy_iterator())
    assert len(windows) == 24
    per_stream = 999 // 4
    for row in range(4):
        start = row * per_stream
        np.testing.assert_array_equal(np.concatenate([w[0][row] for w in windows]),
                                      ids[start:start + 240])
        np.testing.assert_array_equal(np.concatenate([w[1][row] for w in windows]),
                                      ids[start + 1:start + 241])
    with pytest.raises(ValueError, match="too few for one window"):
        window_dataset(mapped[:20], batch_size=4, bptt=10)


def test_state_carried_across_windows_equals_one_pass_over_the_stream(text_file):
    """Stateful windows (reset at the start) score the test stream exactly as a stateless copy
    of the model reading each of the batch_size streams in one piece."""
    from seqtasks.recipes.language_model.streams import reset_states, tbptt_windows

    task, datasets, model = lm_task(text_file)
    reset_states(model)
    stateful = model.evaluate(datasets["test"], return_dict=True, verbose=0)["loss"]

    stateless, _ = stateless_copy(task, model)
    inputs, targets = tbptt_windows(task.preprocessor.stream_ids(task.splits["test"]), 4, 20)
    rows_in = np.concatenate(list(inputs), axis=1)  # [4, windows * 20]: each stream whole
    rows_out = np.concatenate(list(targets), axis=1)
    probs = stateless.predict(rows_in, verbose=0)
    picked = np.take_along_axis(probs, rows_out[..., None], axis=-1)[..., 0]
    assert stateful == pytest.approx(float(-np.log(picked).mean()), rel=1e-4)


def test_diagnostic_gradients_at_the_embedding_match_finite_differences(text_file):
    """seqtasks diagnose's gradient for language_model (taken at the embedding output, the
    stateful layers started from zero) against central differences of a stateless copy."""
    import keras

    from seqtasks.diagnose import step_gradient_norms
    from seqtasks.training import per_example_loss

    task, datasets, model = lm_task(text_file, "model.embedding_dim=6", seed=3, scale=0.4)
    forward, inputs, targets = task.diagnostic(model, datasets)
    norms = step_gradient_norms(forward, inputs, targets, per_example_loss(model.loss))
    assert norms.shape == (20,)
    for rnn in (layer for layer in model.layers if isinstance(layer, keras.layers.RNN)):
        assert not np.any(rnn.states[0].numpy())  # no state left behind

    _, (_, embedding, rnns, head) = stateless_copy(task, model)
    x = np.asarray(embedding(next(iter(datasets["train"]))[0]), np.float64)
    np.testing.assert_allclose(x, inputs, atol=1e-6)
    batch, _, features = x.shape
    labels = np.asarray(targets)

    def losses(rows):
        h = rows.astype("float32")
        for rnn in rnns:
            h = rnn(h)[0]
        p = np.asarray(head(h[:, -1]), np.float64)
        return -np.log(p[np.arange(len(rows)), np.tile(labels, len(rows) // batch)])

    eps = 1e-2
    for t in (11, 16, 19):
        rows = []
        for sign in (1, -1):
            for j in range(features):
                moved = x.copy()
                moved[:, t, j] += sign * eps
                rows.append(moved)
        values = losses(np.concatenate(rows)).reshape(2, features, batch)
        grad = (values[0] - values[1]) / (2 * eps)  # d loss_b / d x[b, t, j]
        reference = np.linalg.norm(grad, axis=0).mean()
        assert norms[t] == pytest.approx(reference, rel=3e-2, abs=1e-6), t


def test_training_text_on_disk_trains_exactly_as_in_memory(text_file, tmp_path):
    """data.cache = "disk": the training ids go to a file under the run directory, read a
    window at a time; the run's history and test metrics are those of the in-memory ids,
    and the file is gone after training."""
    runs = {}
    for cache in ("memory", "disk"):
        out = tmp_path / cache
        result = cli("run", "language_model", *set_args(tiny_lm(
            f"data.train={text_file}", f"data.cache={cache}",
            f"export.dir={tmp_path / 'exports' / cache}")), "--output", out)
        assert result.exit_code == 0, result.output
        runs[cache] = ((out / "history.csv").read_text(),
                       json.loads((out / "metrics.json").read_text())["test"])
        assert not (out / "cache").exists()
    assert runs["disk"] == runs["memory"]
