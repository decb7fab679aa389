"""Metrics against hand-computed values."""

import math

import numpy as np
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


def test_entity_scores_match_hand_computed_values():
    from seqtasks.metrics import tagging_scores

    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predicted = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "B-LOC"]]
    scores = tagging_scores(gold, predicted, "IOB")
    # entities: gold {PER, LOC, ORG}, predicted {PER, ORG, LOC(wrong place)}: 2 of 3 each way
    assert scores["precision"] == pytest.approx(2 / 3, abs=1e-6)
    assert scores["recall"] == pytest.approx(2 / 3, abs=1e-6)
    assert scores["f1"] == pytest.approx(2 / 3, abs=1e-6)
    assert scores["accuracy"] == pytest.approx(4 / 6, abs=1e-6)
    assert scores["per_tag"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    tokens = tagging_scores([["NOUN", "VERB", "NOUN"]], [["NOUN", "NOUN", "NOUN"]])
    assert tokens["per_tag"]["NOUN"]["precision"] == pytest.approx(2 / 3, abs=1e-6)
    assert tokens["per_tag"]["VERB"]["recall"] == 0.0 and "f1" not in tokens


def brute_force_threshold(scores, correct, target):
    """The reference: try every threshold (0 and each score), lowest first."""
    candidates = sorted({0.0, *scores})
    best = None
    for t in candidates:
        answered = scores >= t
        if not answered.any():
            continue
        precision = correct[answered].mean()
        if precision >= target:
            return t, precision
        if best is None or precision > best[1]:
            best = (t, precision)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_abstain_threshold_is_the_lowest_reaching_the_target(seed):
    from seqtasks.metrics import abstain_threshold

    rng = np.random.default_rng(seed)
    scores = np.round(rng.uniform(0, 1, 200), 2)  # rounded: ties at the cut
    correct = rng.uniform(0, 1, 200) < scores  # higher scores are more often right
    for target in (0.5, 0.8, 0.9, 0.99, 1.0):
        threshold, precision, answered = abstain_threshold(scores, correct, target)
        expected, expected_precision = brute_force_threshold(scores, correct, target)
        assert threshold == pytest.approx(expected), (seed, target)
        assert precision == pytest.approx(expected_precision)
        assert answered == pytest.approx((scores >= threshold).mean())


def test_abstention_scores_as_the_clinc150_paper_counts_them():
    from seqtasks.metrics import abstention_scores

    targets = ["a", "a", "b", "b", "oos", "oos", "oos", "oos"]
    best = ["a", "b", "b", "b", "a", "oos", "b", "a"]
    abstained = [False, False, True, False, False, True, True, False]
    scores = abstention_scores(targets, best, abstained, "oos")
    # in scope: right and answered are #0 and #3 of 4 (#2 is right but abstained)
    assert scores["accuracy"] == 0.5
    assert scores["out_of_scope_recall"] == 0.5  # #5 and #6 of the four out-of-scope
    assert scores["out_of_scope_precision"] == pytest.approx(2 / 3)  # #2 was in scope
    assert scores["abstained"] == pytest.approx(3 / 8)
    assert (scores["in_scope_examples"], scores["out_of_scope_examples"]) == (4, 4)
