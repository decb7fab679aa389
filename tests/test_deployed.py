"""``seqtasks evaluate`` and ``seqtasks predict --input``: the exported SavedModel on files,
and their bad inputs (one clear line, non-zero exit, nothing half-written)."""

import json

import pytest
from helpers import assert_clean_failure, cli, write, write_csv

from seqtasks.recipes.smart_reply import builtin as builtin

#: one worker for this module and tests/recipes/test_smart_reply.py (their shared run)
pytestmark = pytest.mark.xdist_group("smart_reply_run")


@pytest.fixture(scope="module")
def run(smart_reply_run):
    return smart_reply_run  # train.csv, test.csv, run/, exports/


def test_evaluate_a_run_directory_and_an_export_alike(run, tmp_path):
    expected = json.loads((run / "run" / "metrics.json").read_text())["test"]
    for target in (run / "run", run / "exports" / "smart_reply"):
        out = tmp_path / target.name
        result = cli("evaluate", target, "--data", run / "test.csv", "--output", out)
        assert result.exit_code == 0, result.output
        assert json.loads((out / "metrics.json").read_text())["test"] == expected
        assert 'recipe = "smart_reply"' in (out / "config.toml").read_text()


def test_evaluate_reads_other_columns_with_set_data(run, tmp_path):
    path = write_csv(tmp_path / "other.csv", builtin.generate(20, seed=5), ("message", "intent"))
    result = cli("evaluate", run / "run", "--data", path, "--output", tmp_path / "ev",
                 "--set", "data.text_column=message", "--set", "data.label_column=intent")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["test"]["examples"] == 20
    assert_clean_failure(cli("evaluate", run / "run", "--data", path, "--set", "train.epochs=3"),
                         "only data.* keys")


def test_evaluate_a_file_with_the_wrong_columns(run, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [("hello", "greeting")], ("message", "intent"))
    result = cli("evaluate", run / "run", "--data", path, "--output", tmp_path / "ev")
    assert_clean_failure(result, "bad.csv:2: missing column 'text'")
    assert not (tmp_path / "ev").exists()


def test_evaluate_a_directory_that_is_neither_a_run_nor_an_export(run, tmp_path):
    assert_clean_failure(cli("evaluate", tmp_path, "--data", run / "test.csv"),
                         "neither a run directory", "nor a seqtasks export")
    assert_clean_failure(cli("evaluate", tmp_path / "missing", "--data", run / "test.csv"),
                         "no such run or export directory")
    (tmp_path / "config.toml").write_text('recipe = "smart_reply"\n')
    assert_clean_failure(cli("evaluate", tmp_path, "--data", run / "test.csv"),
                         "has not finished")


def test_predict_a_file_writes_one_json_object_per_input(run, tmp_path):
    rows = builtin.generate(130, seed=9)
    path = write_csv(tmp_path / "in.csv", [(text, "") for text, _ in rows])
    out = tmp_path / "out.jsonl"
    result = cli("predict", run / "exports" / "smart_reply", "--input", path, "--output", out)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 130
    assert set(lines[0]) == {"where", "replies", "scores", "labels", "abstained"}
    assert lines[0]["where"].endswith("in.csv:2") and lines[-1]["where"].endswith("in.csv:131")
    assert len(lines[5]["replies"]) == 3 and lines[5]["scores"] == sorted(lines[5]["scores"],
                                                                         reverse=True)
    # the same predictions as the one-message-at-a-time command
    single = cli("predict", run / "exports" / "smart_reply", rows[5][0])
    assert single.output.splitlines()[1].split("  ", 2)[2] == lines[5]["replies"][0]


def test_predict_a_text_file_reads_one_message_per_line(run, tmp_path):
    """A .txt file is one message per line, as standard input is: no header, commas and
    quotes kept, blank lines skipped."""
    messages = ["text,label", 'hi, "can you" book a table?', "", "what time is it"]
    path = tmp_path / "messages.txt"
    path.write_text("\n".join(messages) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = cli("predict", run / "exports" / "smart_reply", "--input", path, "--output", out)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["where"] for row in rows] == [f"{path}:1", f"{path}:2", f"{path}:4"]
    piped = cli("predict", run / "exports" / "smart_reply", input="\n".join(
        m for m in messages if m) + "\n")
    firsts = []  # each message's "> message" line, then its replies' "  score  reply" lines
    for line in piped.output.splitlines():
        if line.startswith("> "):
            firsts.append(None)
        elif line.startswith("  ") and firsts and firsts[-1] is None:
            firsts[-1] = line.split("  ", 2)[2]
    assert [r["replies"][0] for r in rows] == firsts
    # a one-column CSV without a header reads the same way; one with the header by its column
    for name, header in (("plain.csv", []), ("named.csv", ["text"])):
        plain = tmp_path / name
        plain.write_text("\n".join([*header, "what time is it", "thanks a lot"]) + "\n")
        done = cli("predict", run / "exports" / "smart_reply", "--input", plain, "--output",
                   tmp_path / f"{name}.jsonl")
        assert done.exit_code == 0, done.output
        got = [json.loads(line) for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()]
        assert [r["where"].rsplit(":", 1)[1] for r in got] == (["1", "2"] if not header
                                                                else ["2", "3"])
        assert got[0]["replies"] == rows[-1]["replies"]


def test_predict_output_is_whole_or_absent(run, tmp_path):
    good = [(text, "") for text, _ in builtin.generate(200, seed=3)]
    path = tmp_path / "in.csv"
    write_csv(path, good)
    with open(path, "a", encoding="utf-8") as f:
        f.write('"an unterminated row with, too many, columns\n')  # line 202: after 3 batches
    out = write(tmp_path / "out.jsonl", "earlier result\n")
    result = cli("predict", run / "exports" / "smart_reply", "--input", path, "--output", out)
    assert_clean_failure(result, "in.csv:202")
    assert out.read_text() == "earlier result\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.jsonl"]


def test_predict_bad_paths(run, tmp_path):
    export = run / "exports" / "smart_reply"
    assert_clean_failure(cli("predict", export, "--input", run / "test.csv", "--output",
                             tmp_path / "missing" / "out.jsonl"),
                         "the folder", "does not exist")
    assert_clean_failure(cli("predict", export, "--input", tmp_path / "none.csv"),
                         "none.csv: no such file")
    assert_clean_failure(cli("predict", tmp_path, "--input", run / "test.csv"),
                         "not a seqtasks export")
    wrong = write_csv(tmp_path / "wrong.csv", [("hi", "x")], ("message", "intent"))
    assert_clean_failure(cli("predict", export, "--input", wrong, "--output",
                             tmp_path / "o.jsonl"), "wrong.csv:2: missing column 'text'")
    assert not (tmp_path / "o.jsonl").exists()


def test_saved_model_cli_shows_the_string_signature(run):
    """The README's first serving step: TensorFlow's own tool reads the export."""
    import subprocess
    import sys

    shown = subprocess.run(
        [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir",
         str(run / "exports" / "smart_reply" / "1"), "--tag_set", "serve", "--signature_def",
         "serving_default"], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "inputs['text']" in shown.stdout and "DT_STRING" in shown.stdout
    assert {"outputs['replies']", "outputs['scores']", "outputs['labels']"} <= {
        line.split(" tensor_info")[0].strip() for line in shown.stdout.splitlines()}
