"""Metrics against hand-computed values."""

import math

import pytest

from seqtasks.metrics import bleu_orders


def test_bleu_orders_with_a_varying_number_of_references():
    # Hand count (clipped n-gram matches against any reference):
    #   "the cat sat on the mat" vs itself: 6/6, 5/5, 4/4, 3/3
    #   "a dog ran" vs "a cat ran fast" | "the dog ran": 3/3, 1/2 ("dog ran"), 0/1, no 4-grams
    # precisions 9/9, 6/7, 4/5, 3/3; lengths 9 vs closest references 6 + 3: no brevity penalty.
    scores = bleu_orders(["the cat sat on the mat", "a dog ran"],
                         [["the cat sat on the mat"], ["a cat ran fast", "the dog ran"]])
    p = [1.0, 6 / 7, 4 / 5, 1.0]
    for n in range(1, 5):
        expected = 100 * math.exp(sum(math.log(x) for x in p[:n]) / n)
        assert scores[f"bleu_{n}"] == pytest.approx(expected, abs=1e-3), n


def test_bleu_brevity_penalty_and_lowercase():
    # 3 hypothesis tokens against a 6-token reference: BP = exp(1 - 6/3).
    scores = bleu_orders(["The Cat sat"], [["the cat sat on the mat"]], lowercase=True)
    assert scores["bleu_1"] == pytest.approx(100 * math.exp(-1), abs=1e-3)
    assert bleu_orders(["The Cat sat"], [["the cat sat on the mat"]])["bleu_1"] == \
        pytest.approx(100 * math.exp(-1) / 3, abs=1e-3)
