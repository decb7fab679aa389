"""tagging end to end: CoNLL files -> run -> metrics -> export -> predict, and its bad inputs."""

import json

import numpy as np
import pytest
from helpers import assert_clean_failure, cli, run_without_seqtasks, set_args, tiny, write
from tiny_data import TAGGING_TINY, write_conllu

from seqtasks.recipes.tagging import builtin as builtin


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_conllu(root / "train.conllu", builtin.generate(300, seed=1))
    write_conllu(root / "test.conllu", builtin.generate(60, seed=2))
    return root


@pytest.fixture(scope="module")
def finished_run(data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    overrides = tiny(*TAGGING_TINY, f"data.train={data_dir / 'train.conllu'}",
                     f"data.test={data_dir / 'test.conllu'}", f"export.dir={root / 'exports'}")
    result = cli("run", "tagging", *set_args(overrides), "--output", root / "run")
    assert result.exit_code == 0, result.output
    return root


def test_run_writes_metrics_per_tag_table_and_export(finished_run):
    run = finished_run / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    test = metrics["test"]
    assert 0.0 <= test["accuracy"] <= 1.0
    assert test["tokens"] == sum(len(t) for t, _, _ in builtin.generate(60, seed=2))
    assert "NOUN" in test["per_tag"] and "f1" not in test  # UPOS is not a chunk encoding
    assert metrics["data"]["entity_scheme"] is None
    assert list((run / "checkpoints").glob("epoch-*.keras"))
    version = finished_run / "exports" / "tagging" / "1"
    assert (version / "saved_model.pb").exists() and metrics["export"] == str(version)


def test_export_runs_without_seqtasks_and_agrees_with_keras_model(finished_run):
    import keras

    import seqtasks  # noqa: F401  (registers the layers for load_model)

    version = finished_run / "exports" / "tagging" / "1"
    texts = ["The cat can book a room .", "", "  they  saw it  ", " ".join(["book"] * 2000)]
    out = run_without_seqtasks(
        "import json, tensorflow as tf\n"
        f"sig = tf.saved_model.load({str(version)!r}).signatures['serving_default']\n"
        f"out = sig(text=tf.constant({texts!r}))\n"
        "print(json.dumps({k: v.numpy().tolist() for k, v in out.items()}, default=str))\n"
    )
    served = json.loads(out.strip().splitlines()[-1])
    assert served["lengths"] == [7, 0, 3, 2000]
    assert len(served["tokens"][3]) == 2000 and served["tokens"][2][:3] == [
        "b'they'", "b'saw'", "b'it'"]
    model = keras.models.load_model(version / "assets.extra" / "model.keras", safe_mode=True)
    probs = np.asarray(model.predict(np.array(texts, dtype=object), verbose=0))
    tags = json.loads((version / "assets.extra" / "seqtasks.json").read_text())["tags"]
    for row, length in enumerate(served["lengths"]):
        expected = [f"b'{tags[i]}'" for i in probs[row, :length].argmax(-1)]
        assert served["tags"][row][:length] == expected
        assert all(tag == "b''" for tag in served["tags"][row][length:])


def test_predict_prints_token_tab_tag_and_blank_lines(finished_run):
    exports = finished_run / "exports" / "tagging"
    result = cli("predict", exports, "The cat sat .", "", "They book it")
    assert result.exit_code == 0, result.output
    lines = result.output.split("\n")
    # every sentence is its token lines then a blank line; the empty sentence is a blank line
    assert [line.split("\t")[0] for line in lines] == [
        "The", "cat", "sat", ".", "", "", "They", "book", "it", "", ""]
    assert all(line.count("\t") == 1 and line.split("\t")[1] for line in lines if line)
    piped = cli("predict", exports / "1", input="a dog\n" + "word " * 2000 + "\n")
    assert piped.exit_code == 0, piped.output
    assert len([line for line in piped.output.splitlines() if line]) == 2002


def test_predict_input_streams_an_untagged_conllu_file_to_json_lines(finished_run, tmp_path):
    path = write(tmp_path / "in.conllu", """
        # text = The cat sat .
        1\tThe\t_\t_\t_\t_\t_\t_\t_\t_
        2\tcat\t_\t_\t_\t_\t_\t_\t_\t_
        3-4\tsat.\t_\t_\t_\t_\t_\t_\t_\t_
        3\tsat\t_\t_\t_\t_\t_\t_\t_\t_
        4\t.\t_\t_\t_\t_\t_\t_\t_\t_

        1\tThey\t_\t_\t_\t_\t_\t_\t_\t_
        """)
    result = cli("predict", finished_run / "exports" / "tagging", "--input", path,
                 "--output", tmp_path / "out.jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(row["where"], row["lengths"]) for row in rows] == [(f"{path}:2", 4), (f"{path}:8", 1)]
    assert rows[0]["tokens"] == ["The", "cat", "sat", "."] and all(rows[0]["tags"])


def test_predict_input_reads_a_text_file_as_one_sentence_per_line(finished_run, tmp_path):
    path = write(tmp_path / "in.txt", "The cat sat .\n\nThey sleep\n")
    result = cli("predict", finished_run / "exports" / "tagging", "--input", path)
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [(r["where"], r["tokens"][:r["lengths"]]) for r in rows] == [
        (f"{path}:1", ["The", "cat", "sat", "."]), (f"{path}:3", ["They", "sleep"])]


def test_evaluate_rejects_tokens_holding_spaces(finished_run, tmp_path):
    """(That evaluate gives the run's own metrics on a CoNLL-U file is the contract test's.)"""
    path = write(tmp_path / "spaces.conllu", """
        1\tThey\tthey\tPRON\t_\t_\t0\troot\t_\t_

        1\tNew York\tnew york\tPROPN\t_\t_\t0\troot\t_\t_
        2\tsleeps\tsleep\tVERB\t_\t_\t1\tx\t_\t_
        """)
    assert_clean_failure(cli("evaluate", finished_run / "run", "--data", path, "--output",
                             tmp_path / "ev2"),
                         "spaces.conllu:3: 2 tokens, but the model reads 3")
