import numpy as np
import pytest

from seqtasks.data.noise import drop_rare_tokens


def test_rare_words_are_dropped_with_probability_alpha_over_alpha_plus_count():
    import tensorflow as tf

    counts = [0, 0, 1, 3, 1000]
    ids = tf.constant([2] * 4000 + [3] * 4000 + [4] * 4000 + [1] * 100 + [0] * 100, tf.int32)
    dropped = drop_rare_tokens(ids, counts, alpha=0.25).numpy()
    share = {i: (dropped[ids.numpy() == i] == 1).mean() for i in (2, 3, 4)}
    assert abs(share[2] - 0.25 / 1.25) < 0.03  # seen once: 20%
    assert abs(share[3] - 0.25 / 3.25) < 0.02  # seen three times: 7.7%
    assert share[4] < 0.003                     # frequent: almost never
    assert (dropped[-100:] == 0).all() and (dropped[-200:-100] == 1).all()
    kept = dropped[:12000] != 1
    np.testing.assert_array_equal(dropped[:12000][kept], ids.numpy()[:12000][kept])


def test_word_dropout_replaces_only_real_tokens():
    import tensorflow as tf

    from seqtasks.data.noise import drop_words

    ids = tf.constant([5, 6, 7, 8] * 500 + [0] * 1000, dtype=tf.int32)
    dropped, _ = drop_words(ids, 0, rate=0.5)
    dropped = dropped.numpy()
    assert (dropped[2000:] == 0).all()
    share = (dropped[:2000] == 1).mean()
    assert 0.4 < share < 0.6
    assert ((dropped[:2000] == 1) | (dropped[:2000] == ids.numpy()[:2000])).all()


def test_dropout_keys_must_be_below_one():
    from seqtasks.config import load_config
    from seqtasks.errors import ConfigError

    with pytest.raises(ConfigError, match=r"data.word_dropout: expected a number in \[0, 1\)"):
        load_config("smart_reply", ["data.word_dropout=1.5"])
