"""smart_reply's preprocessor: test labels never seen in training, and the padding it adds to
a batch masked by every model variant."""

import numpy as np
import pytest
from helpers import assert_clean_failure, run_expecting_failure, tiny, write, write_csv

import seqtasks
from seqtasks.recipes.smart_reply import builtin as builtin


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_csv(root / "train.csv", builtin.generate(300, seed=1))  # the shared run's train.csv
    return root


def run_bad(tmp_path, *overrides):
    return run_expecting_failure("smart_reply", tmp_path, tiny(*overrides))


def test_test_label_never_seen_in_training_stops_the_run_when_asked(tmp_path, data_dir):
    path = write(tmp_path / "test.csv", "text,label\nhello,greeting\nsing me a song,karaoke\n")
    assert_clean_failure(
        run_bad(tmp_path, f"data.train={data_dir / 'train.csv'}", f"data.test={path}",
                "data.unseen_labels=error"),
        "test.csv:3: label 'karaoke' never appears in the training data",
        'data.unseen_labels = "score"')


def test_labels_never_seen_in_training_are_scored_as_errors_by_default(tmp_path, data_dir):
    """A test file built for the purpose: 2 messages of a label training never had, one
    out-of-scope message, and known ones; the run ends, warns once for the label, and its
    accuracy counts the 2 as errors (the out-of-scope one is not in-scope accuracy's)."""
    import json

    from helpers import cli, set_args

    known = builtin.generate(20, seed=7)
    rows = [*known, ("sing me a song", "karaoke"), ("play a tune", "karaoke"),
            ("what is the airspeed of a swallow", "oos")]
    test = write_csv(tmp_path / "test.csv", rows)
    overrides = tiny(f"data.train={data_dir / 'train.csv'}", f"data.test={test}",
                     f"export.dir={tmp_path / 'exports'}", epochs=3)
    result = cli("run", "smart_reply", *set_args(overrides), "--output", tmp_path / "run")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {test}:{len(known) + 2}: label 'karaoke' never appears in "
                        "the training data; its 2 messages here count as errors (the model "
                        "cannot predict it; data.unseen_labels = \"error\" stops instead)"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]
    served = [json.loads(line) for line in cli(
        "predict", tmp_path / "exports" / "smart_reply", "--input", test).output.splitlines()
        if line.startswith("{")]
    right = sum(r["labels"][0] == label and not r["abstained"]
                for r, (_, label) in zip(served, rows) if label != "oos")
    assert metrics["accuracy"] == pytest.approx(right / (len(known) + 2), abs=1e-6)
    assert right <= len(known)


@pytest.mark.parametrize("overrides", [
    ["model.bidirectional=true", "model.pooling=attention"],
    pytest.param(["model.cell=lstm", "model.layers=2"], marks=pytest.mark.slow),
    pytest.param(["model.cell=gru", "model.pooling=max", "model.bidirectional=true"],
                 marks=pytest.mark.slow),
], ids=["bi-elman-attention", "lstm-2-layers", "bi-gru-max"])
def test_padding_in_a_batch_never_changes_a_prediction(data_dir, overrides):
    recipe = seqtasks.get_recipe("smart_reply")
    task = recipe(recipe.default_config(tiny(f"data.train={data_dir / 'train.csv'}", *overrides)))
    datasets = task.build_datasets()
    model = task.build_model()
    model.fit(datasets["train"].take(3), verbose=0, shuffle=False)
    inference = task.inference_model(model)
    alone = np.asarray(inference(np.array(["where is my parcel"], dtype=object)))
    batch = np.asarray(inference(np.array(
        ["where is my parcel", "hi there i would like to cancel the order i placed tomorrow"],
        dtype=object)))
    np.testing.assert_allclose(alone[0], batch[0], atol=1e-6)
