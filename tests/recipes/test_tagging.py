"""tagging end to end: CoNLL files -> run -> metrics -> export -> predict, and its bad inputs."""

import json

import numpy as np
import pytest
from helpers import (
    assert_clean_failure,
    cli,
    run_expecting_failure,
    run_without_seqtasks,
    set_args,
    tiny,
    write,
)

from seqtasks.recipes.tagging import builtin as builtin

TINY = ["model.char_embedding_dim=8", "model.char_units=8"]


def write_conllu(path, sentences):
    """CoNLL-U with UPOS; one comment per sentence and a multiword token line to skip."""
    lines = []
    for n, (tokens, upos, _) in enumerate(sentences):
        lines += [f"# sent_id = {n}", f"# text = {' '.join(tokens)}"]
        if n % 7 == 0:
            lines.append(f"1-2\t{tokens[0]}{tokens[1]}\t_\t_\t_\t_\t_\t_\t_\t_")
        for i, (token, tag) in enumerate(zip(tokens, upos), 1):
            lines.append(f"{i}\t{token}\t{token.lower()}\t{tag}\tX{tag}\t_\t0\tdep\t_\t_")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


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
    write_conllu(root / "test.conllu", builtin.generate(60, seed=2))
    write_conll2003(root / "ner.train", builtin.generate(300, seed=3))
    (root / "ner.train").rename(root / "ner_train.conll")
    write_conll2003(root / "ner_test.conll", builtin.generate(60, seed=4))
    return root


@pytest.fixture(scope="module")
def finished_run(data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    overrides = tiny(*TINY, f"data.train={data_dir / 'train.conllu'}",
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


@pytest.mark.slow
def test_conll2003_ner_gets_entity_f1_and_per_type_table(data_dir, tmp_path):
    import seqtasks

    result = seqtasks.run("tagging", tiny(
        *TINY, f"data.train={data_dir / 'ner_train.conll'}",
        f"data.test={data_dir / 'ner_test.conll'}", f"export.dir={tmp_path / 'x'}", epochs=1),
        output=tmp_path / "run", echo=lambda *_: None, verbose=0)
    test = result.metrics["test"]
    assert {"accuracy", "precision", "recall", "f1"} <= set(test)
    assert set(test["per_tag"]) <= {"PER", "LOC", "ORG"}
    assert result.metrics["data"]["entity_scheme"] == "IOB"
    assert result.metrics["data"]["tags"] == len({t for _, _, ner in builtin.generate(300, 3)
                                                  for t in ner})


def test_entity_scores_match_hand_computed_values():
    from seqtasks.metrics import tagging_scores

    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predicted = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "B-LOC"]]
    scores = tagging_scores(gold, predicted, "IOB")
    # entities: gold {PER, LOC, ORG}, predicted {PER, ORG, LOC(wrong place)}: 2 of 3 each way
    assert scores["precision"] == pytest.approx(2 / 3, abs=1e-6)
    assert scores["recall"] == pytest.approx(2 / 3, abs=1e-6)
    assert scores["f1"] == pytest.approx(2 / 3, abs=1e-6)
    assert scores["accuracy"] == pytest.approx(4 / 6, abs=1e-6)
    assert scores["per_tag"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    tokens = tagging_scores([["NOUN", "VERB", "NOUN"]], [["NOUN", "NOUN", "NOUN"]])
    assert tokens["per_tag"]["NOUN"]["precision"] == pytest.approx(2 / 3, abs=1e-6)
    assert tokens["per_tag"]["VERB"]["recall"] == 0.0 and "f1" not in tokens


def test_entity_scheme_detection():
    from seqtasks.recipes.tagging.preprocessor import entity_scheme

    assert entity_scheme(["O", "B-PER", "I-PER"]) == "IOB"
    assert entity_scheme(["O", "S-PER", "E-PER", "B-PER"]) == "IOBES"
    assert entity_scheme(["U-LOC", "L-LOC", "O"]) == "BILOU"
    assert entity_scheme(["NOUN", "VERB", "O"]) is None
    assert entity_scheme(["B-NP", "I-VP", "O"]) == "IOB"


@pytest.mark.parametrize("overrides", [
    [],
    pytest.param(["model.cell=lstm", "model.char_encoder=cnn"], marks=pytest.mark.slow),
    pytest.param(["model.cell=gru", "model.bidirectional=false", "model.layers=2"],
                 marks=pytest.mark.slow),
], ids=["bi-elman-charrnn", "bi-lstm-charcnn", "gru-2-layers"])
def test_padding_on_either_side_never_changes_tags_or_probabilities(data_dir, overrides):
    import seqtasks

    recipe = seqtasks.get_recipe("tagging")
    task = recipe(recipe.default_config(tiny(*TINY, f"data.train={data_dir / 'train.conllu'}",
                                             *overrides)))
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
                *TINY, f"data.train=tfds:{source}", f"data.test=tfds:{source}:test",
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


# ----- bad input: one clear line, non-zero exit, no traceback, nothing half-written -----------

def run_bad(tmp_path, *overrides):
    return run_expecting_failure("tagging", tmp_path, tiny(*TINY, *overrides))


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
        *TINY, f"data.train={data_dir / 'ner_train.conll'}", f"data.test={test}",
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


# ----- layers -------------------------------------------------------------------------------

def test_token_ids_against_hand_computed_ids():
    import tensorflow as tf

    from seqtasks.layers import TextTokenizer, TokenIds

    tokens = TextTokenizer(lowercase=False, split_punctuation=False)(
        tf.constant(["The  cat sat", ""]))
    assert tokens.numpy().tolist() == [[b"The", b"cat", b"sat"], [b"", b"", b""]]
    ids = TokenIds(["the", "cat"], ["T", "a", "c", "t"], max_word_chars=2)
    word_ids, char_ids = ids(tokens)
    # words: "" -> 0, OOV -> 1, the -> 2, cat -> 3; chars: T -> 2, a -> 3, c -> 4, t -> 5
    assert word_ids.numpy().tolist() == [[2, 3, 1], [0, 0, 0]]
    assert char_ids.numpy().tolist() == [[[2, 1], [4, 3], [1, 3]], [[0, 0]] * 3]
    cased = TokenIds(["the"], ["t"], lowercase=False)
    assert cased(tf.constant([["The", "the"]]))[0].numpy().tolist() == [[1, 2]]


@pytest.mark.parametrize("kind", ["rnn", "cnn"])
def test_character_features_ignore_character_padding_and_round_trip(kind, tmp_path):
    import keras

    from seqtasks.layers import CHARACTER_ENCODERS

    encoder = CHARACTER_ENCODERS[kind](10, 4, 3)
    short = np.array([[[2, 3, 0], [0, 0, 0]]])
    padded = np.array([[[2, 3, 0, 0, 0, 0], [4, 5, 6, 7, 8, 9]]])
    a, b = np.asarray(encoder(short)), np.asarray(encoder(padded))
    np.testing.assert_allclose(a[0, 0], b[0, 0], atol=1e-6)
    assert (a[0, 1] == 0).all() and np.abs(b[0, 1]).sum() > 0
    np.testing.assert_array_equal(np.asarray(encoder.compute_mask(padded)), [[True, True]])
    inputs = keras.Input((None, None), dtype="int32")
    model = keras.Model(inputs, encoder(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded(padded)), b, atol=1e-6)
