import gzip

import numpy as np
import pytest
from helpers import tiny
from tiny_data import TAGGING_TINY

from seqtasks.errors import DataError
from seqtasks.recipes.tagging.data import conll_format, read_conll, read_conllu, read_tagged

CONLLU = """\
# sent_id = 1
# text = The cat's asleep.
1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_
2\tcat\tcat\tNOUN\tNN\t_\t4\tnsubj\t_\t_
3-4\tcat's\t_\t_\t_\t_\t_\t_\t_\t_
3\t's\tbe\tAUX\tVBZ\t_\t4\tcop\t_\t_
4\tasleep\tasleep\tADJ\tJJ\t_\t0\troot\t_\tSpaceAfter=No
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tSleep\tsleep\tVERB\tVB\t_\t0\troot\t_\t_
1.1\tnow\tnow\tADV\tRB\t_\t_\t_\t1:advmod\t_
2\twell\twell\tADV\tRB\t_\t1\tadvmod\t_\t_"""

CONLL2003 = """\
-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
-DOCSTART- -X- -X- O
Blackburn NNP I-NP I-PER
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_conllu_skips_comments_multiword_tokens_and_empty_nodes(tmp_path):
    path = write(tmp_path, "a.conllu", CONLLU)
    first, second = list(read_conllu(path))
    assert first.tokens == ["The", "cat", "'s", "asleep", "."]
    assert first.tags == ["DET", "NOUN", "AUX", "ADJ", "PUNCT"]
    assert first.lines == [3, 4, 6, 7, 8]
    assert first.source == str(path)
    assert second.tokens == ["Sleep", "well"]
    assert second.lines == [11, 13]
    assert list(read_conllu(path, "xpos"))[0].tags == ["DT", "NN", "VBZ", "JJ", "."]
    assert list(read_conllu(path, 7))[1].tags == ["root", "advmod"]
    assert list(read_tagged(path)) == [first, second]


def test_conllu_windows_line_endings_and_gzip(tmp_path):
    path = tmp_path / "a.conllu.gz"
    with gzip.open(path, "wt", newline="") as f:
        f.write(CONLLU.replace("\n", "\r\n") + "\r\n\r\n")
    sentences = list(read_tagged(path))
    assert [s.tags[-1] for s in sentences] == ["PUNCT", "ADV"]
    assert sentences[1].lines == [11, 13]
    with pytest.raises(DataError, match=r"a\.conllu\.gz:3: token 'The' has no misc tag "
                       r"\(found '_'\)$"):
        list(read_conllu(path, "misc"))


def test_conll2003_columns(tmp_path):
    path = write(tmp_path, "train.txt", CONLL2003)
    sentences = list(read_conll(path))
    assert [s.tokens for s in sentences] == [["EU", "rejects", "German"], ["Peter"], ["Blackburn"]]
    assert [s.tags for s in sentences] == [["B-ORG", "O", "B-MISC"], ["B-PER"], ["I-PER"]]
    assert [s.lines for s in sentences] == [[3, 4, 5], [7], [9]]
    assert list(read_conll(path, tag_column=2))[0].tags == ["B-NP", "B-VP", "B-NP"]
    assert list(read_tagged(path, tag_column=1))[2].tags == ["NNP"]


def test_conll2000_three_columns_gzip_and_crlf(tmp_path):
    path = tmp_path / "chunks.conll.gz"
    path.write_bytes(gzip.compress(b"He PRP B-NP\r\nreckons VBZ B-VP\r\n\r\nOK JJ B-ADJP\r\n"))
    sentences = list(read_tagged(path))
    assert [(s.tokens, s.tags, s.lines) for s in sentences] == [
        (["He", "reckons"], ["B-NP", "B-VP"], [1, 2]),
        (["OK"], ["B-ADJP"], [4]),
    ]


def test_conll_format():
    assert conll_format("a.conllu") == "conllu"
    assert conll_format("dir/A.CONLLU.gz") == "conllu"
    assert [conll_format(f"a{ext}") for ext in (".conll", ".txt", ".iob", ".bio.gz")] == [
        "columns"
    ] * 4
    with pytest.raises(DataError, match=r"^a\.csv: unknown file type; expected \.conllu, \.conll, "
                       r"\.txt, \.iob or \.bio \(optionally \.gz\)$"):
        conll_format("a.csv")


def test_conllu_wrong_column_count(tmp_path):
    path = write(tmp_path, "a.conllu", CONLLU.replace("2\tcat\tcat", "2 cat\tcat"))
    with pytest.raises(DataError, match=r"a\.conllu:4: expected 10 tab-separated columns "
                       r"\(CoNLL-U\), found 9$"):
        list(read_conllu(path))


def test_conllu_missing_tag(tmp_path):
    path = write(tmp_path, "a.conllu", CONLLU.replace("NOUN\tNN", "_\tNN"))
    with pytest.raises(DataError, match=r"a\.conllu:4: token 'cat' has no upos tag \(found '_'\)$"):
        list(read_conllu(path))
    path = write(tmp_path, "b.conllu", CONLLU.replace("NOUN\tNN", "NOUN\t"))
    with pytest.raises(DataError, match=r"b\.conllu:4: token 'cat' has no column 4 tag "
                       r"\(found ''\)$"):
        list(read_conllu(path, 4))


def test_conllu_unknown_column_name(tmp_path):
    path = write(tmp_path, "a.conllu", CONLLU)
    with pytest.raises(DataError, match=r"a\.conllu: unknown CoNLL-U column 'pos'; expected one "
                       r"of id, form, lemma, upos, xpos, feats, head, deprel, deps, misc"):
        list(read_conllu(path, "pos"))


def test_no_sentences(tmp_path):
    path = write(tmp_path, "a.conllu", "# only a comment\n\n")
    with pytest.raises(DataError, match=r"a\.conllu: no sentences found \(expected CoNLL-U: "):
        list(read_conllu(path))
    path = write(tmp_path, "b.iob", "-DOCSTART- O\n\n\n")
    with pytest.raises(DataError, match=r"b\.iob: no sentences found "):
        list(read_conll(path))


def test_conll_inconsistent_column_count(tmp_path):
    path = write(tmp_path, "a.txt", CONLL2003.replace("German JJ B-NP", "German JJ"))
    with pytest.raises(DataError, match=r"a\.txt:5: expected 4 columns like line 3, found 3$"):
        list(read_conll(path))


def test_conll_token_without_tag(tmp_path):
    path = write(tmp_path, "a.txt", "cat\ndog N\n")
    with pytest.raises(DataError, match=r"a\.txt:1: token 'cat' has no tag "
                       r"\(expected at least 2 columns, found 1\)$"):
        list(read_conll(path))
    path = write(tmp_path, "b.txt", CONLL2003.replace("Peter NNP B-NP B-PER", "Peter"))
    with pytest.raises(DataError, match=r"b\.txt:7: token 'Peter' has no tag "
                       r"\(expected at least 2 columns, found 1\)$"):
        list(read_conll(path))
    path = write(tmp_path, "c.txt", "cat N X\n")
    with pytest.raises(DataError, match=r"c\.txt:1: token 'cat' has no tag "
                       r"\(expected at least 4 columns, found 3\)$"):
        list(read_conll(path, tag_column=3))


def test_missing_file(tmp_path):
    path = tmp_path / "nope.conll"
    with pytest.raises(DataError, match=r"nope\.conll: no such file$"):
        list(read_tagged(path))


@pytest.mark.slow
def test_tfds_conll2003_and_universal_dependencies_with_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    import tensorflow as tf

    import seqtasks

    passes = {}  # split -> [(tokens, tag names)] of each pass over it, as generated

    def as_dataset(builder, *args, **kwargs):
        features = builder.info.features
        tag_feature = "ner" if "ner" in features else "upos"
        names = features[tag_feature].feature.names
        rng = np.random.default_rng(0)
        split = str(kwargs.get("split", args[0] if args else ""))

        def examples():
            made = passes.setdefault(split, [])
            made.append([])
            for _ in range(30):
                length = int(rng.integers(1, 12))
                example = {k: ([b"x"] * length if isinstance(v, tfds.features.Sequence) else b"")
                           for k, v in features.items()}
                example["tokens"] = [f"w{rng.integers(20)}".encode() for _ in range(length)]
                for name in ("ner", "pos", "chunks", "upos"):
                    if name in features:
                        example[name] = rng.integers(len(features[name].feature.names),
                                                     size=length)
                made[-1].append(([t.decode() for t in example["tokens"]],
                                 [names[i] for i in example[tag_feature]]))
                yield example

        signature = tf.nest.map_structure(
            lambda spec: tf.TensorSpec(spec.shape, spec.dtype),
            features.get_tensor_spec())
        return tf.data.Dataset.from_generator(examples, output_signature=signature)

    for source, tag in (("conll2003", "ner"), ("universal_dependencies/en_ewt", "upos")):
        with tfds.testing.mock_data(as_dataset_fn=as_dataset):
            result = seqtasks.run("tagging", tiny(
                *TAGGING_TINY, f"data.train=tfds:{source}", f"data.test=tfds:{source}:test",
                f"data.tag_column={tag}", f"export.dir={tmp_path / 'x'}", epochs=1),
                output=tmp_path / tag, echo=lambda *_: None, verbose=0)
        assert result.metrics["data"]["examples"]["test"] == 30
        # the reference: the generated test sentences, tagged by the export, counted in numpy
        sentences = passes.pop("test")[0]
        serve = tf.saved_model.load(str(result.export_dir)).signatures["serving_default"]
        out = serve(text=tf.constant([" ".join(tokens) for tokens, _ in sentences]))
        right = [tag.decode() == want for (_, wanted), row, n in zip(
                 sentences, out["tags"].numpy(), out["lengths"].numpy())
                 for tag, want in zip(row[:n], wanted)]
        assert len(right) == result.metrics["test"]["tokens"] == sum(
            len(tokens) for tokens, _ in sentences)
        assert result.metrics["test"]["accuracy"] == pytest.approx(np.mean(right), abs=1e-6)
        passes.clear()
