"""translation: parallel files -> run -> BLEU/chrF/perplexity -> export -> predict, and bad
inputs. Export without seqtasks, evaluate == run, padding and .keras round trip of the default
configuration are the contract test's (tests/test_recipe_contract.py)."""

import gzip
import json

import numpy as np
import pytest
from helpers import (
    cli,
    run_expecting_failure,
    set_args,
    tiny,
    write,
)

import seqtasks
from seqtasks.recipes.translation import builtin as builtin

TINY = ["model.units=16", "model.embedding_dim=8", "model.hidden_units=16",
        "train.batch_size=32", "decode.max_length=30"]


def tiny_translation(*overrides, epochs=2):
    return tiny(*TINY, *overrides, epochs=epochs)


def write_tsv(path, pairs):
    path.write_text("".join(f"{s}\t{t}\tCC-BY 2.0\n" for s, t in pairs), encoding="utf-8")
    return path


def task_for(*overrides):
    recipe = seqtasks.get_recipe("translation")
    return recipe(recipe.default_config(tiny_translation(*overrides)))


def serving(task, model):
    """The in-memory serving_default: ``texts -> {output: NumPy}``."""
    signature = task.endpoints(task.inference_model(model))["serving_default"]
    return lambda texts: {k: v.numpy() for k, v in
                          signature(text=np.array(texts, dtype=object)).items()}


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


def test_prediction_inputs_stream_the_source_column(tmp_path):
    task = task_for("data.source_column=1", "data.target_column=0")
    path = write(tmp_path / "p.tsv", "hallo\thello\n\nwelt\tworld\n")
    assert list(task.reader.prediction_inputs(path)) == [
        (f"{path}:1", {"text": "hello"}), (f"{path}:3", {"text": "world"})]
    bad = write(tmp_path / "bad.tsv", "hallo\thello\nkein tab\n")
    with pytest.raises(seqtasks.errors.DataError, match=r"bad.tsv:2: expected at least 2 "):
        list(task.reader.prediction_inputs(bad))


@pytest.mark.slow
def test_aligned_gzip_files_train(data_dir, tmp_path):
    result = seqtasks.run("translation", tiny_translation(
        f'data.train=["{data_dir / "train.en.gz"}", "{data_dir / "train.xx.gz"}"]',
        f"export.dir={tmp_path / 'x'}", "decode.strategy=greedy", epochs=1),
        output=tmp_path / "run", echo=lambda *_: None, verbose=0)
    assert sum(result.metrics["data"]["examples"].values()) == 200


def test_character_level_and_vocabulary_limits(data_dir):
    import tensorflow as tf

    task = task_for(f"data.train={data_dir / 'train.tsv'}", "data.source_level=char",
                    "data.target_level=char", "data.max_tokens=20", "decode.strategy=greedy")
    task.build_datasets()
    # 20 = padding + unknown (+ start + end on the target side) + the most frequent characters
    assert task.summary["vocabulary"] == {"source": 20, "target": 20}
    tokens = task.preprocessor.source_tokenize(tf.constant(["ab c."]))
    assert [t.decode() for t in tokens.numpy()[0]] == ["a", "b", "\u2581", "c", "\u2581", "."]
    translation = serving(task, task.build_model())(["the dog sees two birds ."])["translation"]
    assert "\u2581" not in translation[0].decode()


def test_teacher_forcing_ids_and_left_out_pairs(tmp_path):
    import tensorflow as tf

    from seqtasks.recipes.base import Example
    from seqtasks.recipes.translation.preprocessor import TranslationPreprocessor

    p = TranslationPreprocessor(source_vocabulary=["a", "dog"], target_vocabulary=["xo", "ya"])
    assert p({"text": tf.constant(["A cat", ""])}).numpy().tolist() == [[2, 1], [0, 0]]
    target_in, target_out = p.teacher_forcing(tf.constant(["ya xo zz", "xo", ""]))
    assert target_in.numpy().tolist() == [[2, 5, 4, 1], [2, 4, 0, 0], [2, 0, 0, 0]]
    assert target_out.numpy().tolist() == [[5, 4, 1, 3], [4, 3, 0, 0], [3, 0, 0, 0]]
    assert (p.source_vocabulary_size, p.target_vocabulary_size) == (4, 6)
    train = write_tsv(tmp_path / "t.tsv", [("a b c", "x"), ("a", "x y z"), ("a b", "x y")] * 5)
    held_out = write_tsv(tmp_path / "held_out.tsv", [("a b", "x y")])
    task = task_for(f"data.train={train}", f"data.validation={held_out}",
                    f"data.test={held_out}", "data.max_length=2")
    datasets = task.build_datasets()
    assert task.summary["left_out_too_long"] == 10 and task.summary["examples"]["train"] == 5
    trained = [x[0].numpy() for x, *_ in datasets["train"]]  # the long pairs are left out
    assert sum(len(ids) for ids in trained) == 5 and all(ids.shape[1] <= 2 for ids in trained)
    assert task.summary["vocabulary"] == {"source": 4, "target": 6}  # a b / x y
    with pytest.raises(seqtasks.errors.DataError,
                       match="h.tsv:1: the source sentence ' ' has no tokens"):
        TranslationPreprocessor().check([Example("a", "x", "ok"), Example(" ", "x", "h.tsv:1")])


@pytest.mark.parametrize("overrides", [
    [],
    pytest.param(["model.attention=luong", "model.cell=lstm", "model.layers=2"],
                 marks=pytest.mark.slow),
    pytest.param(["model.attention=none", "model.cell=gru", "model.bidirectional=false"],
                 marks=pytest.mark.slow),
], ids=["elman-bahdanau", "lstm-luong-2-layers", "gru-none"])
def test_padding_never_changes_a_translation_or_its_score(data_dir, overrides):
    task = task_for(f"data.train={data_dir / 'train.tsv'}", *overrides)
    datasets = task.build_datasets()
    model = task.build_model()
    model.fit(datasets["train"].take(3), verbose=0, shuffle=False)
    serve = serving(task, model)  # traced once
    alone = serve(["the dog sees two birds ."])
    batch = serve(["the dog sees two birds .", "zyxwv qqq unknown words !", "",
                                "she gives the old red books to the small cats in the park ."])
    assert alone["translation"][0] == batch["translation"][0]
    np.testing.assert_allclose(alone["score"][0], batch["score"][0], atol=1e-5)
    assert np.isfinite(batch["score"]).all()
    assert all(len(t.split()) <= 30 for t in batch["translation"])  # decode.max_length
    probs = model.predict_on_batch(next(iter(datasets["test"]))[0])
    assert np.allclose(probs.sum(-1), 1.0, atol=1e-4)


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


@pytest.mark.slow
def test_tfds_ted_hrlr_with_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")

    import sacrebleu
    import tensorflow as tf

    with tfds.testing.mock_data(num_examples=30, policy=tfds.testing.MockPolicy.USE_CODE):
        result = seqtasks.run("translation", tiny_translation(
            "data.train=tfds:ted_hrlr_translate/pt_to_en",
            "data.test=tfds:ted_hrlr_translate/pt_to_en:test", f"export.dir={tmp_path / 'x'}",
            "decode.strategy=greedy", epochs=1),
            output=tmp_path / "run", echo=lambda *_: None, verbose=0)
        pairs = [(r["pt"].decode(), r["en"].decode())  # the mock's test pairs, read again
                 for r in tfds.as_numpy(tfds.load("ted_hrlr_translate/pt_to_en", split="test"))]
    assert result.metrics["data"]["examples"]["test"] == 30 == len(pairs)
    # the reference: sacreBLEU of the export's translations of the mock's Portuguese
    out = tf.saved_model.load(str(result.export_dir)).signatures["serving_default"](
        text=tf.constant([source for source, _ in pairs]))
    hypotheses = [t.decode() for t in out["translation"].numpy()]
    references = [[target for _, target in pairs]]
    bleu = sacrebleu.corpus_bleu(hypotheses, references, lowercase=True).score
    chrf = sacrebleu.corpus_chrf(hypotheses, references).score
    assert chrf > 0  # the outputs share characters with the references: a real comparison
    assert result.metrics["test"]["bleu"] == pytest.approx(bleu, abs=1e-3)
    assert result.metrics["test"]["chrf"] == pytest.approx(chrf, abs=1e-3)
    assert result.metrics["test"]["sentences"] == 30


# ----- bad input: one clear line, non-zero exit, no traceback, nothing half-written -----------

def run_bad(tmp_path, *overrides):
    return run_expecting_failure("translation", tmp_path, tiny_translation(*overrides))

