"""Parallel text: TSV pairs and line-aligned files, with file:line in every error; the
translation recipe's reader on prediction inputs and on a TFDS source."""
import gzip
from pathlib import Path

import pytest
from helpers import write
from tiny_data import tiny_translation

import seqtasks
from seqtasks.errors import DataError
from seqtasks.recipes.translation.data import Pair, read_aligned, read_pairs, read_tsv_pairs


def _gzip(path, text):
    with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
        f.write(text)
    return path


def test_tsv_pairs_split_on_tabs_only_and_skip_blank_lines(tmp_path):
    path = tmp_path / "fra.txt"
    path.write_text('Go.\tVa !\tCC-BY 2.0 (France) #1\n\n"Hi," he said.\t« Salut », dit-il.\tx\n')
    assert read_tsv_pairs(path) == [
        Pair("Go.", "Va !", f"{path}:1"),
        Pair('"Hi," he said.', "« Salut », dit-il.", f"{path}:3"),
    ]
    assert read_pairs(str(path)) == read_tsv_pairs(path)


def test_tsv_chosen_columns(tmp_path):
    path = tmp_path / "sentences.tsv"
    path.write_text("1\thallo\t2\thello\n3\tdanke\t4\tthanks\n")
    assert read_tsv_pairs(path, source_column=3, target_column=1) == [
        Pair("hello", "hallo", f"{path}:1"), Pair("thanks", "danke", f"{path}:2")]
    assert read_pairs(path, 3, 1) == read_tsv_pairs(path, 3, 1)


def test_tsv_windows_line_endings_and_gzip(tmp_path):
    path = _gzip(tmp_path / "pairs.tsv.gz", "one\teins\r\ntwo\tzwei\r\n")
    assert read_tsv_pairs(path) == [
        Pair("one", "eins", f"{path}:1"), Pair("two", "zwei", f"{path}:2")]


def test_tsv_line_without_tab_names_file_and_line(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("one\teins\ntwo zwei\n")
    with pytest.raises(DataError, match=r"pairs.tsv:2: expected at least 2 tab-separated columns "
                                        r"\(source<TAB>target\), found 1$"):
        read_tsv_pairs(path)
    path.write_text("a\tb\tc\n")
    with pytest.raises(DataError, match=r"pairs.tsv:1: expected at least 4 tab-separated columns "
                                        r"\(source in column 3, target in column 0.*found 3$"):
        read_tsv_pairs(path, source_column=3, target_column=0)


def test_tsv_empty_side_names_file_line_and_other_side(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("one\teins\n \tzwei\n")
    with pytest.raises(DataError, match=r"pairs.tsv:2: empty source sentence \(target: 'zwei'\)"):
        read_tsv_pairs(path)
    path.write_text("one\teins\ntwo\t\tnote\n")
    with pytest.raises(DataError, match=r"pairs.tsv:2: empty target sentence \(source: 'two'\)"):
        read_tsv_pairs(path)


def test_tsv_empty_file(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("")
    with pytest.raises(DataError, match=r"pairs.tsv: no sentence pairs found"):
        read_tsv_pairs(path)
    path.write_text("\n  \n")
    with pytest.raises(DataError, match=r"pairs.tsv: no sentence pairs found"):
        read_tsv_pairs(path)


def test_tsv_bad_columns(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("a\tb\n")
    with pytest.raises(DataError, match=r"source_column must be a column number.*found -1"):
        read_tsv_pairs(path, source_column=-1)
    with pytest.raises(DataError, match=r"target_column must be a column number.*found '1'"):
        read_tsv_pairs(path, target_column="1")
    with pytest.raises(DataError, match=r"both 0"):
        read_tsv_pairs(path, target_column=0)


def test_missing_file_and_bad_utf8_come_from_read_text(tmp_path):
    with pytest.raises(DataError, match=r"nope.tsv: no such file"):
        read_pairs(str(tmp_path / "nope.tsv"))
    (tmp_path / "bad.en").write_bytes(b"ok\nbad \xff\n")
    (tmp_path / "ok.de").write_text("gut\nschlecht\n")
    with pytest.raises(DataError, match=r"bad.en:2: not valid UTF-8"):
        read_pairs([tmp_path / "bad.en", tmp_path / "ok.de"])


def test_aligned_gzip_files(tmp_path):
    source = _gzip(tmp_path / "train.de.gz", "Ein Hund.\nZwei Katzen.\n")
    target = _gzip(tmp_path / "train.en.gz", "A dog.\nTwo cats.\n")
    expected = [Pair("Ein Hund.", "A dog.", f"{source}:1"),
                Pair("Zwei Katzen.", "Two cats.", f"{source}:2")]
    assert read_aligned(source, target) == expected
    assert read_pairs([str(source), str(target)]) == expected
    assert read_pairs((source, target)) == expected


def test_aligned_trailing_newline_is_not_a_line_and_crlf_is_stripped(tmp_path):
    source = tmp_path / "a.de"
    target = tmp_path / "a.en"
    source.write_bytes(b"eins\r\nzwei\r\n")
    target.write_bytes(b"one\ntwo")
    assert [(p.source, p.target) for p in read_aligned(source, target)] == [
        ("eins", "one"), ("zwei", "two")]


def test_aligned_line_counts_must_match(tmp_path):
    source = _gzip(tmp_path / "train.de.gz", "".join(f"satz {i}\n" for i in range(29000)))
    target = _gzip(tmp_path / "train.en.gz", "".join(f"sentence {i}\n" for i in range(28999)))
    with pytest.raises(DataError) as error:
        read_aligned(source, target)
    assert str(error.value) == (
        f"{source}: 29000 lines but {target} has 28999; "
        "the two files of a parallel corpus must align line by line")


def test_aligned_blank_on_both_sides_is_skipped_one_side_is_an_error(tmp_path):
    source, target = tmp_path / "a.de", tmp_path / "a.en"
    source.write_text("eins\n\nzwei\n")
    target.write_text("one\n\ntwo\n")
    assert [p.where for p in read_aligned(source, target)] == [f"{source}:1", f"{source}:3"]
    target.write_text("one\n\n\n")
    with pytest.raises(DataError, match=r"a.en:3: empty target sentence \(source: 'zwei'\)"):
        read_aligned(source, target)
    source.write_text("eins\n\n\n")
    target.write_text("one\n\n" + "x" * 100 + "\n")
    with pytest.raises(DataError, match=r"a.de:3: empty source sentence \(target: 'x+\.\.\.'\)"):
        read_aligned(source, target)


def test_aligned_empty_files(tmp_path):
    source, target = tmp_path / "a.de", tmp_path / "a.en"
    source.write_text("")
    target.write_text("\n")
    with pytest.raises(DataError, match=r"a.de: 0 lines but .*a.en has 1"):
        read_aligned(source, target)
    source.write_text("\n")
    with pytest.raises(DataError, match=r"a.de: no sentence pairs found"):
        read_aligned(source, target)


@pytest.mark.parametrize("spec", [None, 3, ["a.de"], ["a", "b", "c"], {"source": "a"}, ["a", 1]])
def test_wrong_spec_type(spec):
    with pytest.raises(DataError, match=r"^data.train: expected a TSV file or a list of two "
                                        r"aligned files, found "):
        read_pairs(spec)
    with pytest.raises(DataError, match=r"^data.test: expected"):
        read_pairs(spec, name="data.test")


def test_path_objects_are_accepted(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("a\tb\n")
    assert read_pairs(Path(path)) == [Pair("a", "b", f"{path}:1")]


# ----- the translation recipe's TranslationReader (moved from tests/recipes/test_translation.py)

def test_prediction_inputs_stream_the_source_column(tmp_path):
    recipe = seqtasks.get_recipe("translation")
    task = recipe(recipe.default_config(tiny_translation("data.source_column=1",
                                                         "data.target_column=0")))
    path = write(tmp_path / "p.tsv", "hallo\thello\n\nwelt\tworld\n")
    assert list(task.reader.prediction_inputs(path)) == [
        (f"{path}:1", {"text": "hello"}), (f"{path}:3", {"text": "world"})]
    bad = write(tmp_path / "bad.tsv", "hallo\thello\nkein tab\n")
    with pytest.raises(seqtasks.errors.DataError, match=r"bad.tsv:2: expected at least 2 "):
        list(task.reader.prediction_inputs(bad))


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

