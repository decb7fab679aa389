"""Stateful-training windows against the stream they were cut from."""

import numpy as np
import pytest

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
