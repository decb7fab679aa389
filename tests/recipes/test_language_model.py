"""language_model end to end: text -> stateful training -> perplexity -> export with generation
-> seqtasks generate, and its bad inputs. Its text splits, TFDS source and resumed data state:
tests/data/test_text.py; its stateful windows, diagnostic and training ids on disk:
tests/data/test_streams.py; its score signature and test score: tests/test_generation.py."""

import json
import math

import pytest
from helpers import assert_clean_failure, cli, run_without_seqtasks, set_args, write
from tiny_data import tiny_lm

from seqtasks.recipes.language_model.preprocessor import split_tokens
from seqtasks.recipes.translation import builtin as translation


@pytest.fixture(scope="module")
def finished_run(text_file, tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    overrides = tiny_lm(f"data.train={text_file}", f"export.dir={root / 'exports'}")
    result = cli("run", "language_model", *set_args(overrides), "--output", root / "run")
    assert result.exit_code == 0, result.output
    assert "sample:" in result.output
    return root


def test_run_reports_perplexity_and_bits_per_char(finished_run):
    test = json.loads((finished_run / "run" / "metrics.json").read_text())["test"]
    assert test["perplexity"] == pytest.approx(math.exp(test["loss"]), rel=1e-4)
    assert test["bits_per_char"] == pytest.approx(test["loss"] / math.log(2), rel=1e-4)
    assert 1.0 < test["perplexity"] < 30


def test_diagnose_a_language_model_run(finished_run, tmp_path):
    result = cli("diagnose", finished_run / "run", "--cells", "elman", "--output", tmp_path)
    assert result.exit_code == 0, result.output
    profiles = json.loads((tmp_path / "diagnose.json").read_text())["profiles"]
    assert set(profiles) == {"elman (initialised)", "elman (trained run)"}
    assert all(len(p) == 20 for p in profiles.values())
    assert "gradient at 20 steps back" in result.output


def test_export_generates_without_seqtasks_like_in_memory(finished_run):
    """The SavedModel's signatures, loaded with TensorFlow alone, generate what the exported
    .keras inference model generates in memory."""
    import keras
    import tensorflow as tf

    from seqtasks.generation import generator

    version = finished_run / "exports" / "language_model" / "1"
    code = (
        "import json, tensorflow as tf\n"
        f"m = tf.saved_model.load({str(version)!r})\n"
        "a = m.signatures['serving_default'](prompt=tf.constant(['the d', '']))['text']\n"
        "b = m.signatures['generate'](prompt=tf.constant(['the d']), length=tf.constant(30),\n"
        "    temperature=tf.constant(0.7), top_k=tf.constant(5), seed=tf.constant(11))['text']\n"
        "print(json.dumps([t.decode() for t in a.numpy()] + [b.numpy()[0].decode()]))\n"
    )
    served = json.loads(run_without_seqtasks(code).strip().splitlines()[-1])
    model = keras.models.load_model(version / "assets.extra" / "model.keras")
    expected = generator(model)(tf.constant(["the d"]), 30, 0.7, 5, 11).numpy()[0].decode()
    assert served[2] == expected and served[2].startswith("the d")
    assert len(served[2]) == len("the d") + 30
    assert len(served[0]) == len("the d") + 200 and len(served[1]) == 200


def test_generate_command(finished_run):
    export = finished_run / "exports" / "language_model"
    result = cli("generate", export, "--prompt", "the ", "--length", "40", "--temperature",
                 "0.8", "--top-k", "10", "--seed", "3")
    assert result.exit_code == 0, result.output
    text = result.output.rstrip("\n")
    assert text.startswith("the ") and len(text) == 44
    again = cli("generate", export, "--prompt", "the ", "--length", "40", "--temperature",
                "0.8", "--top-k", "10", "--seed", "3")
    assert again.output == result.output
    greedy = cli("generate", export, "--prompt", "the ", "--length", "40", "--temperature", "0")
    assert greedy.exit_code == 0 and len(greedy.output.rstrip("\n")) == 44


def test_word_level_and_evaluate_of_the_export(text_file, tmp_path):
    """Word tokens, a given test file (validation carved from the end of train), and
    ``seqtasks evaluate`` of the export on that file giving the run's own test metrics."""
    import seqtasks

    test_file = tmp_path / "test.txt"
    test_file.write_text("\n".join(s for s, _ in translation.generate(60, seed=9)) + "\n")
    result = seqtasks.run("language_model", tiny_lm(
        f"data.train={text_file}", f"data.test={test_file}", "data.tokenizer=word",
        "train.bptt=8", f"export.dir={tmp_path / 'x'}", epochs=1),
        output=tmp_path / "run", echo=lambda *_: None, verbose=0)
    assert "bits_per_char" not in result.metrics["test"]
    assert result.metrics["data"]["level"] == "word"
    out = cli("generate", result.export_dir, "--prompt", "the dog", "--length", "5")
    assert out.exit_code == 0, out.output
    assert len(split_tokens(out.output.strip(), "word", line_ends="token")) == 7
    scored = cli("evaluate", tmp_path / "run", "--data", test_file, "--output", tmp_path / "ev")
    assert scored.exit_code == 0, scored.output
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())["test"]
    assert metrics == result.metrics["test"]


def test_line_ends_are_word_level_tokens():
    """``data.line_ends = "token"`` (the word level's default): each line end is a token,
    scored and generated like a word; a generated one starts a new line."""
    import tensorflow as tf

    from seqtasks.recipes.language_model.preprocessor import LanguageModelPreprocessor

    assert split_tokens("A b\r\nc\n\nd", "word", line_ends="token") == [
        "A", "b", "<eos>", "c", "<eos>", "<eos>", "d"]
    assert split_tokens("A b\nc\n", "word", line_ends="ignore") == ["A", "b", "c"]
    assert split_tokens("a\nb", "char", line_ends="token") == ["a", "\n", "b"]
    p = LanguageModelPreprocessor("word", vocabulary=["a", "b", "<eos>"], line_ends="token")
    ids = p({"prompt": tf.constant(["a b\na\n"])})[0][:, :5]
    assert ids.numpy().tolist() == [[1, 2, 3, 1, 3]]
    assert p.detokenize(ids).numpy().tolist() == [b"a b\na\n"]
    assert p.continued(tf.constant(["b", "b"]), tf.constant([[3, 1], [1, 3]]),
                       tf.constant([2, 2])).numpy().tolist() == [b"b\na", b"b a\n"]


def test_predict_reads_one_prompt_per_line(finished_run, tmp_path):
    prompts = write(tmp_path / "prompts.txt", "the d\n\nhe \n")
    out = tmp_path / "out.jsonl"
    result = cli("predict", finished_run / "exports" / "language_model", "--input", prompts,
                 "--output", out)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["where"] for r in rows] == [f"{prompts}:{i}" for i in (1, 2, 3)]
    assert [len(r["text"]) for r in rows] == [5 + 200, 200, 3 + 200]
    assert rows[0]["text"].startswith("the d") and rows[2]["text"].startswith("he ")


# ----- bad input: one clear line, non-zero exit, no traceback, nothing half-written -----------

def test_prompt_of_unseen_characters(finished_run):
    result = cli("generate", finished_run / "exports" / "language_model", "--prompt", "Zoë")
    assert_clean_failure(result, "--prompt", "'Z'", "'ë'", "never seen in the training text")


@pytest.mark.parametrize("length", ["0", "-5"])
def test_length_must_be_positive(finished_run, length):
    result = cli("generate", finished_run / "exports" / "language_model", "--length", length)
    assert_clean_failure(result, "--length", "expected a positive number")
