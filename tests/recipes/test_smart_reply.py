"""smart_reply end to end: files -> run -> metrics -> export -> predict, and its bad inputs."""

import csv
import json

import numpy as np
import pytest
from helpers import (
    assert_clean_failure,
    cli,
    run_expecting_failure,
    set_args,
    tiny,
    write,
    write_csv,
)

import seqtasks
from seqtasks.recipes.smart_reply import builtin as builtin

#: one worker for this module and tests/test_deployed.py: both use the session's smart_reply run
pytestmark = pytest.mark.xdist_group("smart_reply_run")


@pytest.fixture(scope="module")
def data_dir(smart_reply_run):
    return smart_reply_run  # train.csv, test.csv and replies.csv


@pytest.fixture(scope="module")
def finished_run(smart_reply_run):
    return smart_reply_run  # run/ and exports/


def test_run_writes_config_checkpoints_logs_metrics_and_export(finished_run):
    run = finished_run / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["test"]) >= {"accuracy", "top_3_accuracy"}
    assert 0.0 <= metrics["test"]["accuracy"] <= metrics["test"]["top_3_accuracy"] <= 1.0
    assert 0.0 <= metrics["data"]["padded_fraction"] < 0.5
    assert (run / "config.toml").exists() and (run / "history.csv").exists()
    assert list((run / "checkpoints").glob("epoch-*.keras"))
    assert list((run / "logs").rglob("events.out.tfevents.*"))
    version = finished_run / "exports" / "smart_reply" / "1"
    assert (version / "saved_model.pb").exists()
    assert (version / "assets.extra" / "model.keras").exists()
    assert metrics["export"] == str(version)


def test_rerun_of_a_finished_run_changes_nothing(finished_run):
    result = cli("run", "smart_reply", "--output", finished_run / "run",
                 *set_args(json_overrides(finished_run)))
    assert result.exit_code == 0, result.output
    assert "already complete" in result.output
    assert not (finished_run / "exports" / "smart_reply" / "2").exists()


def json_overrides(finished_run):
    import tomllib

    config = tomllib.loads((finished_run / "run" / "config.toml").read_text())
    return [f"{s}.{k}={json.dumps(v)}" for s, table in config.items() if isinstance(table, dict)
            for k, v in table.items()]


def test_predict_from_arguments_and_stdin(finished_run):
    exports = finished_run / "exports" / "smart_reply"
    result = cli("predict", exports, "where is my parcel", "")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == "> where is my parcel" and len(lines) == 8
    reply_texts = set(builtin.replies().values())
    assert lines[1].split("  ", 2)[2] in reply_texts
    piped = cli("predict", exports / "1", input="thank you\n" + "word " * 10_000 + "\n")
    assert piped.exit_code == 0, piped.output
    assert len(piped.output.strip().splitlines()) == 8


def test_second_export_gets_the_next_version(finished_run):
    from seqtasks.export import next_version

    assert next_version(finished_run / "exports" / "smart_reply") == 2


@pytest.mark.slow
def test_tfds_clinc_oos_with_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    import numpy as np
    import tensorflow as tf

    import seqtasks

    with tfds.testing.mock_data(num_examples=40, policy=tfds.testing.MockPolicy.USE_CODE):
        result = seqtasks.run("smart_reply", tiny(
            "data.train=tfds:clinc_oos", "data.validation=tfds:clinc_oos:validation",
            "data.test=tfds:clinc_oos:train", "data.label_column=intent",
            f"export.dir={tmp_path / 'exports'}", epochs=1), output=tmp_path / "run",
            echo=lambda *_: None, verbose=0)
        rows = [(r["text"].decode(), str(r["intent"]))  # the mock's rows, read again
                for r in tfds.as_numpy(tfds.load("clinc_oos", split="train"))]
    assert result.metrics["data"]["examples"]["train"] == 40 == len(rows)
    # the reference: the export on the mock's messages, its best labels counted in numpy (the
    # integer intents become labels as their decimal text; none is out of scope)
    out = tf.saved_model.load(str(result.export_dir)).signatures["serving_default"](
        text=tf.constant([text for text, _ in rows]))
    right = [row[0].decode() == label and not abstained for (_, label), row, abstained in zip(
        rows, out["labels"].numpy(), out["abstained"].numpy())]
    assert result.metrics["test"]["examples"] == 40
    assert result.metrics["test"]["accuracy"] == pytest.approx(np.mean(right), abs=1e-6)


def test_python_api_mirrors_the_cli(data_dir, tmp_path):
    import keras
    import tensorflow as tf

    import seqtasks
    from seqtasks import export, training

    recipe = seqtasks.get_recipe("smart_reply")
    config = recipe.default_config(tiny(f"data.train={data_dir / 'train.csv'}", epochs=1))
    task = recipe(config)
    datasets = task.build_datasets()
    model = task.build_model()
    training.fit(model, datasets, tmp_path / "run", config["train"], verbose=0)
    scored = task.evaluate(model)
    metrics = scored.metrics
    path = export.export(task, model, export_dir=tmp_path / "exports")
    first = keras.models.load_model(path / "assets.extra" / "model.keras")
    text = tf.constant(["where is my order", "hello"])
    assert first(text).shape == (2, 15)  # called directly: no predict function to trace
    assert set(metrics) >= {"accuracy", "top_3_accuracy"}
    assert len(scored.predictions) == len(task.splits["test"]) == metrics["examples"]

    # evaluation and export trace the serving signatures once per model; training on after
    # them must still be seen by the next export (its weights are copied in again)
    model.fit(datasets["train"], epochs=1, verbose=0)
    again = export.export(task, model, export_dir=tmp_path / "exports")
    loaded = np.asarray(keras.models.load_model(again / "assets.extra" / "model.keras")(text))
    np.testing.assert_allclose(loaded, np.asarray(task.inference_model(model)(text)), atol=1e-6)
    served = tf.saved_model.load(str(again)).signatures["serving_default"](text=text)
    np.testing.assert_allclose(served["scores"].numpy()[:, 0], loaded.max(axis=1), atol=1e-6)
    assert not np.allclose(loaded, np.asarray(first(text)), atol=1e-4)


# ----- bad input: one clear line, non-zero exit, no traceback, nothing half-written -----------

def run_bad(tmp_path, *overrides):
    return run_expecting_failure("smart_reply", tmp_path, tiny(*overrides))


def test_test_label_never_seen_in_training(tmp_path, data_dir):
    path = write(tmp_path / "test.csv", "text,label\nhello,greeting\nsing me a song,karaoke\n")
    assert_clean_failure(
        run_bad(tmp_path, f"data.train={data_dir / 'train.csv'}", f"data.test={path}"),
        "test.csv:3: label 'karaoke' never appears in the training data")


def test_unknown_recipe(tmp_path):
    assert_clean_failure(cli("run", "smart_repy"), "unknown recipe 'smart_repy'",
                         "did you mean 'smart_reply'")
    assert not list(tmp_path.iterdir())


def test_predict_on_a_directory_that_is_not_an_export(tmp_path):
    assert_clean_failure(cli("predict", tmp_path, "hello"), "not a seqtasks export")
    assert_clean_failure(cli("predict", tmp_path / "missing", "hello"), "no such export directory")


@pytest.mark.parametrize("overrides", [
    ["model.bidirectional=true", "model.pooling=mean"],
    pytest.param(["model.cell=lstm", "model.layers=2"], marks=pytest.mark.slow),
    pytest.param(["model.cell=gru", "model.pooling=max", "model.bidirectional=true"],
                 marks=pytest.mark.slow),
], ids=["bi-elman-mean", "lstm-2-layers", "bi-gru-max"])
def test_padding_in_a_batch_never_changes_a_prediction(data_dir, overrides):
    import seqtasks

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


# ----- abstaining: export.min_score, data.out_of_scope_label ---------------------------------
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
