"""Classifiers that stay silent (:mod:`seqtasks.abstaining`, mixed into smart_reply): an
automatic threshold end to end, out-of-scope messages only in held-out data, and the
``export.min_score`` key. (The threshold search and the CLINC150 scores themselves:
tests/test_metrics.py.)"""

import csv
import json

import numpy as np
import pytest
from helpers import assert_clean_failure, cli, tiny, write_csv

import seqtasks
from seqtasks.recipes.smart_reply import builtin as builtin


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_csv(root / "train.csv", builtin.generate(300, seed=1))  # the shared run's train.csv
    return root


def oos_rows(count, seed):
    rng = np.random.default_rng(seed)
    words = ["purple", "volcano", "sing", "jazz", "orbit", "penguin", "marble", "tulip"]
    return [(" ".join(rng.choice(words, 4)), "oos") for _ in range(count)]


def test_out_of_scope_messages_and_an_auto_threshold_end_to_end(tmp_path):
    """Trained with out-of-scope messages and export.min_score = auto: the export abstains
    exactly when its best score is under the chosen threshold or its best label is out of
    scope, with empty replies; the run's metrics are those of the export's outputs."""
    import tensorflow as tf

    for split, (n, seed) in {"train": (300, 1), "val": (60, 2), "test": (60, 3)}.items():
        rows = builtin.generate(n, seed=seed) + oos_rows(n // 5, seed)
        write_csv(tmp_path / f"{split}.csv", rows)
    result = seqtasks.run("smart_reply", tiny(
        *[f"data.{key}={tmp_path / name}.csv" for key, name in
          (("train", "train"), ("validation", "val"), ("test", "test"))],
        "export.min_score=auto", "export.target_precision=0.95",
        f"export.dir={tmp_path / 'x'}", epochs=3), output=tmp_path / "run",
        echo=lambda *_: None, verbose=0)
    meta = json.loads((result.export_dir / "assets.extra" / "seqtasks.json").read_text())
    assert 0.0 <= meta["min_score"] <= 1.0 and meta["out_of_scope_label"] == "oos"
    rows = list(csv.reader(open(tmp_path / "test.csv")))[1:]
    signature = tf.saved_model.load(str(result.export_dir)).signatures["serving_default"]
    out = {k: v.numpy() for k, v in signature(text=tf.constant([r[0] for r in rows])).items()}
    expected = (out["scores"][:, 0] < meta["min_score"]) | (out["labels"][:, 0] == b"oos")
    np.testing.assert_array_equal(out["abstained"], expected)
    assert expected.any() and not expected.all()
    assert (out["replies"][expected] == b"").all() and (out["replies"][~expected] != b"").all()
    targets = np.array([r[1] for r in rows])
    outside = targets == "oos"
    test = result.metrics["test"]
    assert test["out_of_scope_recall"] == pytest.approx(out["abstained"][outside].mean(), abs=1e-6)
    right = (out["labels"][:, 0].astype(str) == targets) & ~out["abstained"]
    assert test["accuracy"] == pytest.approx(right[~outside].mean(), abs=1e-6)
    assert test["out_of_scope_examples"] == int(outside.sum())


def test_out_of_scope_messages_only_in_held_out_data_are_scored_not_refused(tmp_path, data_dir):
    recipe = seqtasks.get_recipe("smart_reply")
    write_csv(tmp_path / "test.csv", builtin.generate(20, seed=5) + oos_rows(7, 5))
    task = recipe(recipe.default_config(tiny(f"data.train={data_dir / 'train.csv'}",
                                             f"data.test={tmp_path / 'test.csv'}")))
    datasets = task.build_datasets()
    assert task.summary["examples"]["test"] == 27 and "oos" not in task.preprocessor.labels
    assert sum(int(y.shape[0]) for _, y in datasets["test"]) == 20  # fit never sees them


def test_min_score_must_be_auto_or_a_probability(tmp_path):
    assert_clean_failure(cli("run", "smart_reply", "--set", "export.min_score=1.5"),
                         'export.min_score: expected "auto" or a number in [0, 1], found 1.5')
    assert_clean_failure(cli("run", "smart_reply", "--set", "export.min_score=sometimes"),
                         "export.min_score", "found 'sometimes'")
