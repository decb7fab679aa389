"""Stateful-training windows against the stream they were cut from."""

import numpy as np
import pytest

from seqtasks.data.streams import tbptt_windows


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
