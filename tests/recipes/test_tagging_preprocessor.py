"""tagging's preprocessor: entity schemes, tags never seen in training (stopped, or scored as
conlleval counts them), and its padding ids masked by every model variant."""

import numpy as np
import pytest
from helpers import assert_clean_failure, run_expecting_failure, tiny, write
from tiny_data import TAGGING_TINY, write_conllu

from seqtasks.recipes.tagging import builtin as builtin


def write_conll2003(path, sentences):
    """The CoNLL-2003 layout: token POS chunk NER, -DOCSTART- and blank lines."""
    lines = ["-DOCSTART- -X- -X- O", ""]
    for tokens, upos, ner in sentences:
        lines += [f"{token} {tag} I-NP {entity}" for token, tag, entity in zip(tokens, upos, ner)]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_conllu(root / "train.conllu", builtin.generate(300, seed=1))
    write_conll2003(root / "ner_train.conll", builtin.generate(300, seed=3))
    write_conll2003(root / "ner_test.conll", builtin.generate(60, seed=4))
    return root


def test_entity_scheme_detection():
    from seqtasks.recipes.tagging.preprocessor import entity_scheme

    assert entity_scheme(["O", "B-PER", "I-PER"]) == "IOB"
    assert entity_scheme(["O", "S-PER", "E-PER", "B-PER"]) == "IOBES"
    assert entity_scheme(["U-LOC", "L-LOC", "O"]) == "BILOU"
    assert entity_scheme(["NOUN", "VERB", "O"]) is None
    assert entity_scheme(["B-NP", "I-VP", "O"]) == "IOB"


@pytest.mark.slow
def test_conll2003_ner_gets_entity_f1_and_per_type_table(data_dir, tmp_path):
    import seqtasks

    result = seqtasks.run("tagging", tiny(
        *TAGGING_TINY, f"data.train={data_dir / 'ner_train.conll'}",
        f"data.test={data_dir / 'ner_test.conll'}", f"export.dir={tmp_path / 'x'}", epochs=1),
        output=tmp_path / "run", echo=lambda *_: None, verbose=0)
    test = result.metrics["test"]
    assert {"accuracy", "precision", "recall", "f1"} <= set(test)
    assert set(test["per_tag"]) <= {"PER", "LOC", "ORG"}
    assert result.metrics["data"]["entity_scheme"] == "IOB"
    assert result.metrics["data"]["tags"] == len({t for _, _, ner in builtin.generate(300, 3)
                                                  for t in ner})


@pytest.mark.parametrize("overrides", [
    [],
    pytest.param(["model.cell=lstm", "model.char_encoder=cnn"], marks=pytest.mark.slow),
    pytest.param(["model.cell=gru", "model.bidirectional=false", "model.layers=2"],
                 marks=pytest.mark.slow),
], ids=["bi-elman-charrnn", "bi-lstm-charcnn", "gru-2-layers"])
def test_padding_on_either_side_never_changes_tags_or_probabilities(data_dir, overrides):
    import seqtasks

    recipe = seqtasks.get_recipe("tagging")
    task = recipe(recipe.default_config(tiny(
        *TAGGING_TINY, f"data.train={data_dir / 'train.conllu'}", *overrides)))
    datasets = task.build_datasets()
    model = task.build_model()
    model.fit(datasets["train"].take(3), verbose=0, shuffle=False)
    word_ids, char_ids = (np.asarray(t) for t in task.preprocessor({"text": np.array(
        ["The cat can book it", "They saw a light duck in Paris ."], dtype=object)}))
    def predict(*inputs):  # called directly: no predict function to trace per shape
        return np.asarray(model(list(inputs), training=False))

    alone = predict(word_ids[:1, :5], char_ids[:1, :5])[0]
    right = predict(word_ids, char_ids)[0, :5]
    left_words = np.roll(word_ids[:1], 3, axis=1)
    left_chars = np.roll(char_ids[:1], 3, axis=1)
    assert (left_words[0, :3] == 0).all()
    left = predict(np.concatenate([left_words, word_ids[1:]]),
                   np.concatenate([left_chars, char_ids[1:]]))[0, 3:]
    np.testing.assert_allclose(right, alone, atol=1e-6)
    np.testing.assert_allclose(left, alone, atol=1e-6)
    assert (right.argmax(-1) == alone.argmax(-1)).all()


def test_a_validation_tag_never_seen_in_training_weighs_nothing_in_the_loss():
    import tensorflow as tf

    from seqtasks.recipes.base import Example
    from seqtasks.recipes.tagging.preprocessor import TaggingPreprocessor

    preprocessor = TaggingPreprocessor(unseen_tags="score")
    preprocessor.adapt([Example(["a", "b"], ["X", "Y"], "train.conll", [1, 2])])
    held_out = [Example(["a", "b", "c"], ["Y", "NEW", "NEW"], "dev.conll", [5, 6, 7])]
    [warning] = preprocessor.check(held_out)
    assert warning.startswith("dev.conll:6: tag 'NEW' never appears") and "its 2 tokens" in warning
    targets = preprocessor.raw_targets(held_out)
    assert targets.to_list() == [[1, -1, -1]]
    text = tf.constant(" ".join(held_out[0].input))
    _, tags, weights = preprocessor.encode({"text": text}, targets[0])
    assert tags.numpy().tolist() == [1, 0, 0] and weights.numpy().tolist() == [1.0, 0.0, 0.0]


def run_bad(tmp_path, *overrides):
    return run_expecting_failure("tagging", tmp_path, tiny(*TAGGING_TINY, *overrides))


def test_test_tag_never_seen_in_training_stops_the_run_when_asked(tmp_path, data_dir):
    path = write(tmp_path / "test.conllu",
                 "1\tHello\thello\tNOUN\t_\t_\t0\troot\t_\t_\n2\tthere\tthere\tWEIRD\t_\t_\t1\tx\t_\t_\n")
    assert_clean_failure(
        run_bad(tmp_path, f"data.train={data_dir / 'train.conllu'}", f"data.test={path}",
                "data.unseen_tags=error"),
        "test.conllu:2: tag 'WEIRD' (token 'there') never appears in the training data")


def _chunks(tags):
    """conlleval's chunks of one sentence: (type, start, end); a chunk starts at B- (or at
    I- after O or another type) and runs over the I- of its type that follow."""
    chunks, start, kind = [], None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, name = tag.partition("-")
        if kind is not None and (prefix != "I" or name != kind):
            chunks.append((kind, start, i))
            kind = None
        if prefix == "B" or (prefix == "I" and kind is None):
            start, kind = i, name
    return chunks


@pytest.mark.slow
def test_unseen_test_tags_are_scored_as_errors_as_conlleval_counts_them(data_dir, tmp_path):
    """Default data.unseen_tags = "score": a test tag never seen in training stays gold; the
    run warns once per tag, and its accuracy and entity scores equal conlleval-style counts
    over the export's own predictions."""
    import tensorflow as tf

    import seqtasks

    sentences = builtin.generate(40, seed=4)
    gold = []
    for n, (_, _, ner) in enumerate(sentences):
        tags = list(ner)
        if n % 4 == 0:  # a two-token LST chunk where there was none (or over an entity)
            tags[:2] = ["B-LST", "I-LST"]
        gold.append(tags)
    test = write_conll2003(tmp_path / "test.conll", [
        (tokens, upos, tags) for (tokens, upos, _), tags in zip(sentences, gold)])
    lines = []
    result = seqtasks.run("tagging", tiny(
        *TAGGING_TINY, f"data.train={data_dir / 'ner_train.conll'}", f"data.test={test}",
        f"export.dir={tmp_path / 'x'}", epochs=1), output=tmp_path / "run",
        echo=lines.append, verbose=0)
    warnings = [line for line in lines if line.startswith("warning:")]
    lst = sum(tag.endswith("-LST") for tags in gold for tag in tags)
    assert warnings == [f"warning: {test}:3: tag 'B-LST' never appears in the training data; "
                        f"its {lst // 2} tokens here count as errors (the model cannot predict "
                        "it; data.unseen_tags = \"error\" stops instead)",
                        f"warning: {test}:4: tag 'I-LST' never appears in the training data; "
                        f"its {lst // 2} tokens here count as errors (the model cannot predict "
                        "it; data.unseen_tags = \"error\" stops instead)"]

    serving = tf.saved_model.load(str(result.export_dir)).signatures["serving_default"]
    out = serving(text=tf.constant([" ".join(tokens) for tokens, _, _ in sentences]))
    predicted = [[t.decode() for t in tags[:n]]
                 for tags, n in zip(out["tags"].numpy(), out["lengths"].numpy())]
    flat = [(g, p) for gs, ps in zip(gold, predicted) for g, p in zip(gs, ps)]
    test_metrics = result.metrics["test"]
    assert test_metrics["tokens"] == len(flat)
    assert test_metrics["accuracy"] == pytest.approx(sum(g == p for g, p in flat) / len(flat),
                                                     abs=1e-4)
    gold_chunks = {(i, *c) for i, tags in enumerate(gold) for c in _chunks(tags)}
    found = {(i, *c) for i, tags in enumerate(predicted) for c in _chunks(tags)}
    right = len(gold_chunks & found)
    assert any(c[1] == "LST" for c in gold_chunks) and not any(c[1] == "LST" for c in found)
    assert test_metrics["recall"] == pytest.approx(right / len(gold_chunks), abs=1e-4)
    assert test_metrics["precision"] == pytest.approx(right / max(len(found), 1), abs=1e-4)
