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


def test_test_label_never_seen_in_training(tmp_path, data_dir):
    path = write(tmp_path / "test.csv", "text,label\nhello,greeting\nsing me a song,karaoke\n")
    assert_clean_failure(
        run_bad(tmp_path, f"data.train={data_dir / 'train.csv'}", f"data.test={path}"),
        "test.csv:3: label 'karaoke' never appears in the training data")


@pytest.mark.parametrize("overrides", [
    ["model.bidirectional=true", "model.pooling=mean"],
    pytest.param(["model.cell=lstm", "model.layers=2"], marks=pytest.mark.slow),
    pytest.param(["model.cell=gru", "model.pooling=max", "model.bidirectional=true"],
                 marks=pytest.mark.slow),
], ids=["bi-elman-mean", "lstm-2-layers", "bi-gru-max"])
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
