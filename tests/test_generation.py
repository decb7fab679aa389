"""seqtasks.generation on a tiny language model: the ``score`` signature carries the state from
chunk to chunk, and the recipe's test score equals a numpy reference on one stateless pass,
whatever the chunking; ``seqtasks generate`` refuses what is not an export."""

import math

import numpy as np
import pytest
from helpers import assert_clean_failure, cli
from tiny_data import lm_task, stateless_copy


def test_test_text_is_scored_whole_as_one_stream(text_file):
    """test.loss is the exact mean negative log-likelihood of every test token after the first,
    the state carried through the whole text by the score signature, whatever the chunking
    (numpy reference on one stateless pass)."""
    task, datasets, model = lm_task(text_file, seed=4)
    ids = task.preprocessor.stream_ids(task.splits["test"])
    windows = int(datasets["test"].cardinality())
    assert len(ids) - 1 > windows * 4 * 20  # the windows drop a tail; this does not

    stateless, _ = stateless_copy(task, model)
    probs = stateless.predict(ids[None, :-1], verbose=0)[0].astype(np.float64)
    picked = probs[np.arange(len(ids) - 1), ids[1:]]
    reference = -np.log(picked).mean()
    accuracy = (probs.argmax(axis=-1) == ids[1:]).mean()

    for chunk in (7, 1024, 4096):
        task.chunk = chunk
        scored = task.evaluate(model)
        metrics = scored.metrics
        assert metrics["loss"] == pytest.approx(reference, rel=1e-5)
        assert metrics["accuracy"] == pytest.approx(accuracy, abs=1e-6)
        assert metrics["bits_per_char"] == pytest.approx(reference / math.log(2), rel=1e-5)
    assert scored.samples[0]["sample"].startswith(task.splits["test"][0].input[0])


def test_score_signature_carries_the_state_between_chunks(text_file):
    """Two chunks, the second started from the first's state, equal one chunk; an empty state
    is the zero state."""
    import tensorflow as tf

    task, _, model = lm_task(text_file, "model.cell=lstm", "model.layers=2", seed=5)
    score = task.endpoints(task.inference_model(model))["score"]
    tokens = list("".join(e.input for e in task.splits["test"]))[:41]
    whole = score(tokens=tf.constant([tokens]), state=tf.zeros([1, 0]))
    assert whole["state"].shape == (1, 2 * 2 * 16)  # two LSTM layers: h and c
    first = score(tokens=tf.constant([tokens[:21]]), state=tf.zeros([1, 64]))
    second = score(tokens=tf.constant([tokens[20:]]), state=first["state"])
    total = float(first["log_likelihood"][0] + second["log_likelihood"][0])
    assert total == pytest.approx(float(whole["log_likelihood"][0]), rel=1e-6)
    assert int(first["correct"][0] + second["correct"][0]) == int(whole["correct"][0])
    np.testing.assert_allclose(second["state"], whole["state"], atol=1e-5)


def test_generate_needs_a_language_model_export(tmp_path):
    result = cli("generate", tmp_path / "nowhere", "--prompt", "x")
    assert_clean_failure(result, "nowhere", "no such export directory")
