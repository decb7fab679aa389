"""smart_reply end to end: files -> run -> metrics -> export -> predict, and its bad inputs."""

import json

import numpy as np
import pytest
from helpers import assert_clean_failure, cli, set_args, tiny

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
    import tensorflow as tf

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

def test_unknown_recipe(tmp_path):
    assert_clean_failure(cli("run", "smart_repy"), "unknown recipe 'smart_repy'",
                         "did you mean 'smart_reply'")
    assert not list(tmp_path.iterdir())


def test_predict_on_a_directory_that_is_not_an_export(tmp_path):
    assert_clean_failure(cli("predict", tmp_path, "hello"), "not a seqtasks export")
    assert_clean_failure(cli("predict", tmp_path / "missing", "hello"), "no such export directory")
