"""translation: parallel files -> run -> BLEU/chrF/perplexity -> export -> predict. Export
without seqtasks, evaluate == run, padding, .keras round trip and bad inputs are the shared tests'
(tests/test_recipe_contract.py, tests/specs.py); the reader's, the preprocessor's and padding in
other model configurations are in tests/data/test_parallel.py,
tests/recipes/test_translation_preprocessor.py and tests/test_decoding.py."""

import gzip
import json

import numpy as np
import pytest
from helpers import (
    cli,
    set_args,
    write,
)
from tiny_data import tiny_translation, write_tsv

import seqtasks
from seqtasks.recipes.translation import builtin as builtin


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
    assert list(test) == ["bleu", "chrf", "perplexity", "sentences"]
    assert 0.0 <= test["bleu"] <= 100.0 and 0.0 <= test["chrf"] <= 100.0
    assert test["perplexity"] > 1.0 and test["sentences"] == 40
    assert metrics["data"]["left_out_too_long"] == 0
    version = finished_run / "exports" / "translation" / "1"
    assert (version / "saved_model.pb").exists() and metrics["export"] == str(version)


def test_metrics_equal_sacrebleu_and_a_numpy_perplexity_of_the_trained_model(finished_run,
                                                                             data_dir):
    # The export's signatures against independent references: sacreBLEU on the translations,
    # and the perplexity from the training model's next-token probabilities (teacher forcing).
    import keras
    import sacrebleu
    import tensorflow as tf

    from seqtasks.layers import TextTokenizer
    from seqtasks.layers.tokens import tokenize_texts

    version = finished_run / "exports" / "translation" / "1"
    loaded = tf.saved_model.load(str(version)).signatures
    assert set(loaded) == {"serving_default", "log_likelihood"}
    pairs = builtin.generate(40, seed=2)
    sources, references = [s for s, _ in pairs], [t for _, t in pairs]
    out = loaded["serving_default"](text=tf.constant(sources))
    hypotheses = [t.decode() for t in out["translation"].numpy()]
    metrics = json.loads((finished_run / "run" / "metrics.json").read_text())["test"]
    bleu = sacrebleu.corpus_bleu(hypotheses, [references], lowercase=True).score
    assert metrics["bleu"] == pytest.approx(bleu, abs=1e-4)

    inference = keras.models.load_model(version / "assets.extra" / "model.keras")
    preprocessor = inference.layers[1]
    model = keras.models.load_model(finished_run / "run" / "model.keras")
    words = preprocessor.target_vocabulary
    index = {w: i + 4 for i, w in enumerate(words)}  # 0 pad, 1 unknown, 2 <s>, 3 </s>
    targets = tokenize_texts(TextTokenizer(), references)
    total = count = 0.0
    for source, target in zip(sources, targets):
        ids = [2] + [index.get(t, 1) for t in target] + [3]
        source_ids = preprocessor({"text": tf.constant([source])}).numpy()
        probs = model.predict_on_batch([source_ids, np.array([ids[:-1]])])[0]
        total -= np.log(np.maximum(probs[np.arange(len(ids) - 1), ids[1:]], 1e-12)).sum()
        count += len(ids) - 1
    assert metrics["perplexity"] == pytest.approx(np.exp(total / count), abs=2e-4)
    scored = loaded["log_likelihood"](text=tf.constant(sources), reference=tf.constant(references))
    assert scored["tokens"].numpy().sum() == count


def test_predict_prints_one_translation_per_input(finished_run, tmp_path):
    exports = finished_run / "exports" / "translation"
    # smart_reply's test covers stdin; here: an empty input and one far over the length limit
    result = cli("predict", exports / "1", "the dog sees a bird .", "", "bird " * 1000)
    assert result.exit_code == 0, result.output
    assert len(result.output.split("\n")) == 4  # three lines (the second may be empty), then ""
    sentences = write(tmp_path / "in.txt", "a cat walks .\n\nthe dog sees a bird .\n")
    result = cli("predict", exports, "--input", sentences, "--output", tmp_path / "out.jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["where"] for r in rows] == [f"{sentences}:1", f"{sentences}:3"]
    assert all(set(r) >= {"translation", "score"} for r in rows)


@pytest.mark.slow
def test_aligned_gzip_files_train(data_dir, tmp_path):
    result = seqtasks.run("translation", tiny_translation(
        f'data.train=["{data_dir / "train.en.gz"}", "{data_dir / "train.xx.gz"}"]',
        f"export.dir={tmp_path / 'x'}", "decode.strategy=greedy", epochs=1),
        output=tmp_path / "run", echo=lambda *_: None, verbose=0)
    assert sum(result.metrics["data"]["examples"].values()) == 200


def test_beam_search_scores_at_least_greedy_on_the_trained_model(finished_run):
    # Not a theorem for every model (a beam can prune the greedy path), but on a trained model,
    # whose next-token distributions are peaked, a 4-wide beam finds at least the greedy score.
    import keras

    version = finished_run / "exports" / "translation" / "1"
    _, preprocessor, translator = keras.models.load_model(
        version / "assets.extra" / "model.keras").layers
    ids = preprocessor({"text": np.array(["the dog sees two birds .", "i walk .",
                                          "the women sing ."], dtype=object)})
    _, greedy = translator.seq2seq.translate(ids, {"strategy": "greedy"})
    _, beam = translator.seq2seq.translate(ids, {"strategy": "beam", "beam_width": 4,
                                                 "length_penalty": 0.0})
    assert (beam.numpy() >= greedy.numpy() - 1e-5).all()
