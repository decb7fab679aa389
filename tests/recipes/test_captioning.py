"""captioning end to end: a Flickr8k layout -> run -> BLEU -> export -> evaluate and predict."""

import json
import shutil

import keras
import pytest
import tensorflow as tf
from helpers import assert_clean_failure, cli, run_without_seqtasks, set_args, write
from tiny_data import flickr_config

import seqtasks
from seqtasks.export import load_arrays, read_metadata


@pytest.fixture(scope="module")
def finished_run(flickr, tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    overrides = flickr_config(flickr, f"export.dir={root / 'exports'}", "train.learning_rate=0.01",
                              epochs=6)
    result = cli("run", "captioning", *set_args(overrides), "--output", root / "run")
    assert result.exit_code == 0, result.output
    assert "caption:" in result.output and "nearest:" in result.output
    return root


def test_run_writes_bleu_1_to_4_beside_the_nearest_caption_baseline(finished_run):
    metrics = json.loads((finished_run / "run" / "metrics.json").read_text())
    test = metrics["test"]
    for n in range(1, 5):
        assert 0.0 <= test[f"bleu_{n}"] <= 100.0 and 0.0 <= test[f"nearest_bleu_{n}"] <= 100.0
    assert test["images"] == metrics["data"]["images"]["test"] == 24
    assert metrics["data"]["images"]["train"] + metrics["data"]["images"]["validation"] == 160
    assert (finished_run / "exports" / "captioning" / "1" / "saved_model.pb").exists()


def test_export_runs_without_seqtasks_and_matches_in_memory_decoding(finished_run, flickr):
    """serving_default captions image bytes as the exported .keras model does; the features
    signature (for the nearest-caption baseline) gives one feature row per image."""
    version = finished_run / "exports" / "captioning" / "1"
    images = [flickr / "Images" / "img160.jpg", flickr / "Images" / "img161.png"]
    code = (
        "import json, tensorflow as tf\n"
        f"sigs = tf.saved_model.load({str(version)!r}).signatures\n"
        f"data = tf.constant([open(p, 'rb').read() for p in {[str(p) for p in images]!r}])\n"
        "out = sigs['serving_default'](image=data)\n"
        "features = sigs['features'](image=data)['features']\n"
        "print(json.dumps([[c.decode() for c in out['caption'].numpy()], features.shape.as_list(),"
        " features.dtype.name]))\n"
    )
    served, shape, dtype = json.loads(run_without_seqtasks(code).strip().splitlines()[-1])
    model = keras.models.load_model(version / "assets.extra" / "model.keras")
    in_memory = [c.decode() for c in model(tf.constant([p.read_bytes() for p in images])).numpy()]
    assert served == in_memory and all(served)
    assert shape[0] == 2 and shape[1] > 0 and dtype == "float32"


def test_signatures_keep_their_names_dtypes_and_shapes(finished_run):
    signatures = tf.saved_model.load(str(finished_run / "exports" / "captioning" / "1")).signatures
    serving = signatures["serving_default"]
    assert serving.structured_input_signature[1] == {
        "image": tf.TensorSpec([None], tf.string, name="image")}
    assert {k: (v.dtype, v.shape.as_list()) for k, v in serving.structured_outputs.items()} == {
        "caption": (tf.string, [None])}
    assert list(signatures["features"].structured_input_signature[1]) == ["image"]


def test_evaluate_on_the_export_alone_reproduces_the_runs_test_metrics(finished_run, flickr,
                                                                       tmp_path):
    """The nearest-caption baseline's training features and captions travel in the export:
    seqtasks evaluate gives the run's own numbers and report with the training data gone."""
    export = tmp_path / "captioning" / "1"
    shutil.copytree(finished_run / "exports" / "captioning" / "1", export)
    config = export / "assets.extra" / "config.toml"
    config.write_text(config.read_text().replace(f'train = "{flickr / "captions.txt"}"',
                                                 f'train = "{tmp_path / "gone.txt"}"', 1))
    assert str(tmp_path / "gone.txt") in config.read_text()
    assert (export / "assets.extra" / "nearest_features.npy").exists()
    result = cli("evaluate", export, "--data", flickr / "captions.txt", "--output", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    assert "nearest:" in result.output and "caption:" in result.output
    run = json.loads((finished_run / "run" / "metrics.json").read_text())["test"]
    evaluated = json.loads((tmp_path / "ev" / "metrics.json").read_text())["test"]
    assert evaluated == run


def test_predict_prints_one_caption_per_image(finished_run, flickr):
    images = [flickr / "Images" / f"img{i}.{'png' if i % 2 else 'jpg'}" for i in (160, 161, 162)]
    result = cli("predict", finished_run / "exports" / "captioning" / "1", *images)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 3 and all(lines)


def test_predict_a_captions_file_to_jsonl(finished_run, flickr, tmp_path):
    """--input reads a captions file's images one at a time: one JSON line per image."""
    out = tmp_path / "captions.jsonl"
    result = cli("predict", finished_run / "exports" / "captioning", "--input",
                 flickr / "captions.txt", "--output", out)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 184 and all(row["caption"] for row in rows)
    assert rows[0]["where"].endswith("captions.txt:2")  # the first caption line of img0.jpg


def test_predict_rejects_a_non_image_file(finished_run, tmp_path):
    text = write(tmp_path / "notes.jpg", "not an image\n")
    result = cli("predict", finished_run / "exports" / "captioning", text)
    assert_clean_failure(result, "notes.jpg", "not a JPEG or PNG image")
    result = cli("predict", finished_run / "exports" / "captioning", tmp_path / "missing.png")
    assert_clean_failure(result, "missing.png", "no such file")


def test_nearest_caption_of_a_training_image_is_its_own(finished_run, flickr):
    """The baseline's neighbour search, checked where the answer is known: a training image's
    nearest training image is itself (cosine 1), so its caption is one of its own."""
    recipe = seqtasks.get_recipe("captioning")
    task = recipe(recipe.default_config(flickr_config(flickr)))
    task.build_datasets()
    export = finished_run / "exports" / "captioning" / "1"
    signatures = tf.saved_model.load(str(export)).signatures
    baseline = task.nearest_captions(signatures, list(task.splits["train"]),
                                     load_arrays(export, read_metadata(export)))
    own = [e.target for e in task.splits["train"]]
    assert sum(b in refs for b, refs in zip(baseline, own)) >= 0.95 * len(own)
