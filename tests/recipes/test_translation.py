"""translation end to end: parallel files -> run -> BLEU -> export -> predict, and bad inputs."""

import gzip
import json
import subprocess

import numpy as np
import pytest
from helpers import (
    assert_clean_failure,
    cli,
    run_builtin_default,
    run_expecting_failure,
    run_without_seqtasks,
    set_args,
    tiny,
    write,
)

from seqtasks.data.builtin import translation as builtin

TINY = ["model.units=16", "model.embedding_dim=8", "model.hidden_units=16",
        "train.batch_size=32", "decode.max_length=30"]


def tiny_translation(*overrides, epochs=2):
    return tiny(*TINY, *overrides, epochs=epochs)


def write_tsv(path, pairs):
    path.write_text("".join(f"{s}\t{t}\tCC-BY 2.0\n" for s, t in pairs), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_tsv(root / "train.tsv", builtin.generate(600, seed=1))
    write_tsv(root / "test.tsv", builtin.generate(40, seed=2))
    pairs = builtin.generate(200, seed=3)
    for suffix, side in (("en", 0), ("xx", 1)):
        with gzip.open(root / f"train.{suffix}.gz", "wt", encoding="utf-8") as f:
            f.write("".join(pair[side] + "\n" for pair in pairs))
    return root


@pytest.fixture(scope="module")
def finished_run(data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    overrides = tiny_translation(f"data.train={data_dir / 'train.tsv'}",
                                 f"data.test={data_dir / 'test.tsv'}",
                                 f"export.dir={root / 'exports'}")
    result = cli("run", "translation", *set_args(overrides), "--output", root / "run")
    assert result.exit_code == 0, result.output
    assert "translation:" in result.output and "reference:" in result.output
    return root


def test_run_writes_bleu_chrf_perplexity_and_export(finished_run):
    metrics = json.loads((finished_run / "run" / "metrics.json").read_text())
    test = metrics["test"]
    assert 0.0 <= test["bleu"] <= 100.0 and 0.0 <= test["chrf"] <= 100.0
    assert test["perplexity"] > 1.0 and test["sentences"] == 40
    version = finished_run / "exports" / "translation" / "1"
    assert (version / "saved_model.pb").exists() and metrics["export"] == str(version)


def test_export_runs_without_seqtasks_and_matches_in_memory_decoding(finished_run):
    import keras
    import tensorflow as tf

    import seqtasks  # noqa: F401  (registers the layers for load_model)

    version = finished_run / "exports" / "translation" / "1"
    texts = ["the small dog sees two red birds .", "", "zyxwv qqq unknown words !",
             " ".join(["dog"] * 1000)]
    out = run_without_seqtasks(
        "import json, tensorflow as tf\n"
        f"sig = tf.saved_model.load({str(version)!r}).signatures['serving_default']\n"
        f"out = sig(text=tf.constant({texts!r}))\n"
        "print(json.dumps({k: [x.decode() if isinstance(x, bytes) else x\n"
        "                      for x in v.numpy().tolist()] for k, v in out.items()}))\n"
    )
    served = json.loads(out.strip().splitlines()[-1])
    model = keras.models.load_model(version / "assets.extra" / "model.keras", safe_mode=True)
    translations, scores = model.get_layer("seq2seq").translate(tf.constant(texts))
    assert served["translation"] == [t.decode() for t in translations.numpy()]
    np.testing.assert_allclose(served["score"], scores.numpy(), atol=1e-4)
    assert all(np.isfinite(served["score"]))
    assert all(len(t.split()) <= 30 for t in served["translation"])  # decode.max_length


def test_saved_model_cli_lists_the_signature(finished_run):
    version = finished_run / "exports" / "translation" / "1"
    shown = subprocess.run(["saved_model_cli", "show", "--dir", str(version), "--tag_set", "serve",
                            "--signature_def", "serving_default"], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    for name in ("inputs['text']", "outputs['translation']", "outputs['score']"):
        assert name in shown.stdout


def test_predict_prints_one_translation_per_input(finished_run):
    exports = finished_run / "exports" / "translation"
    result = cli("predict", exports, "the dog sees a bird .", "")
    assert result.exit_code == 0, result.output
    assert len(result.output.split("\n")) == 3  # two lines (the second may be empty), then ""
    piped = cli("predict", exports / "1", input="a cat walks .\n" + "bird " * 1000 + "\n")
    assert piped.exit_code == 0, piped.output
    assert len(piped.output.split("\n")) == 3


def test_aligned_gzip_files_train(data_dir, tmp_path):
    import seqtasks

    result = seqtasks.run("translation", tiny_translation(
        f'data.train=["{data_dir / "train.en.gz"}", "{data_dir / "train.xx.gz"}"]',
        f"export.dir={tmp_path / 'x'}", "decode.strategy=greedy", epochs=1),
        output=tmp_path / "run", echo=lambda *_: None, verbose=0)
    assert result.metrics["data"]["pairs"]["train"] + result.metrics["data"]["pairs"][
        "validation"] + result.metrics["data"]["pairs"]["test"] == 200


def test_character_level_and_vocabulary_limits(data_dir, tmp_path):
    import tensorflow as tf

    import seqtasks

    recipe = seqtasks.get_recipe("translation")
    task = recipe(recipe.default_config(tiny_translation(
        f"data.train={data_dir / 'train.tsv'}", "data.source_level=char",
        "data.target_level=char", "data.max_tokens=20", "decode.strategy=greedy")))
    task.build_datasets()
    # 20 = padding + unknown (+ start + end on the target side) + the most frequent characters
    assert task.summary["vocabulary"] == {"source": 20, "target": 20}
    layer = task.build_model().get_layer("seq2seq")
    tokens = layer.source_tokenize(tf.constant(["ab c."]))
    assert [t.decode() for t in tokens.numpy()[0]] == ["a", "b", "\u2581", "c", "\u2581", "."]
    translation, _ = layer.translate(tf.constant(["the dog sees two birds ."]))
    assert "\u2581" not in translation.numpy()[0].decode()


@pytest.mark.parametrize("overrides", [
    [],
    ["model.attention=luong", "model.cell=lstm", "model.layers=2"],
    ["model.attention=none", "model.cell=gru", "model.bidirectional=false"],
], ids=["elman-bahdanau", "lstm-luong-2-layers", "gru-none"])
def test_padding_never_changes_a_translation_or_its_score(data_dir, overrides):
    import seqtasks

    recipe = seqtasks.get_recipe("translation")
    task = recipe(recipe.default_config(tiny_translation(
        f"data.train={data_dir / 'train.tsv'}", *overrides)))
    datasets = task.build_datasets()
    model = task.build_model()
    model.fit(datasets["train"].take(3), verbose=0, shuffle=False)
    layer = model.get_layer("seq2seq")
    alone = layer.translate(np.array(["the dog sees two birds ."], dtype=object))
    batch = layer.translate(np.array(
        ["the dog sees two birds .", "she gives the old red books to the small cats in the park ."],
        dtype=object))
    assert alone[0].numpy()[0] == batch[0].numpy()[0]
    np.testing.assert_allclose(alone[1].numpy()[0], batch[1].numpy()[0], atol=1e-5)
    probs = model.predict_on_batch(next(iter(datasets["test"]))[0])
    assert np.allclose(probs.sum(-1), 1.0, atol=1e-4)


def test_beam_search_scores_at_least_greedy_on_the_trained_model(finished_run):
    # Not a theorem for every model (a beam can prune the greedy path), but on a trained model,
    # whose next-token distributions are peaked, a 4-wide beam finds at least the greedy score.
    import keras

    model = keras.models.load_model(finished_run / "run" / "model.keras")
    layer = model.get_layer("seq2seq")
    texts = np.array(["the dog sees two birds .", "i walk .", "the women sing ."], dtype=object)
    _, greedy = layer.translate(texts, {"strategy": "greedy"})
    _, beam = layer.translate(texts, {"strategy": "beam", "beam_width": 4,
                                      "length_penalty": 0.0})
    assert (beam.numpy() >= greedy.numpy() - 1e-5).all()


def test_tfds_ted_hrlr_with_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    import seqtasks

    with tfds.testing.mock_data(num_examples=30, policy=tfds.testing.MockPolicy.USE_CODE):
        result = seqtasks.run("translation", tiny_translation(
            "data.train=tfds:ted_hrlr_translate/pt_to_en",
            "data.test=tfds:ted_hrlr_translate/pt_to_en:test", f"export.dir={tmp_path / 'x'}",
            "decode.strategy=greedy", epochs=1),
            output=tmp_path / "run", echo=lambda *_: None, verbose=0)
    assert result.metrics["data"]["pairs"]["test"] == 30
    assert 0.0 <= result.metrics["test"]["bleu"] <= 100.0


def test_builtin_default_reaches_bleu_90_within_5_minutes(tmp_path):
    test, elapsed = run_builtin_default("translation", tmp_path)
    assert test["bleu"] >= 90.0, test
    assert elapsed < 300, elapsed


# ----- bad input: one clear line, non-zero exit, no traceback, nothing half-written -----------

def run_bad(tmp_path, *overrides):
    return run_expecting_failure("translation", tmp_path, tiny_translation(*overrides))


def test_mismatched_parallel_files(tmp_path):
    src = write(tmp_path / "a.de", "eins\nzwei\ndrei\n")
    tgt = write(tmp_path / "a.en", "one\ntwo\n")
    assert_clean_failure(run_bad(tmp_path, f'data.train=["{src}", "{tgt}"]'),
                         "a.de: 3 lines but", "a.en has 2")


def test_tsv_line_without_tab(tmp_path):
    path = write(tmp_path / "p.tsv", "hallo\thello\nkein tab hier\n")
    assert_clean_failure(run_bad(tmp_path, f"data.train={path}"),
                         "p.tsv:2: expected at least 2 tab-separated columns")


def test_beam_width_must_be_positive():
    assert_clean_failure(cli("run", "translation", "--set", "decode.beam_width=0"),
                         "decode.beam_width: expected a positive integer")
