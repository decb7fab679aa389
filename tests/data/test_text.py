"""One long text as a stream: the held-out end cut in one pass, the training prefix, and the
token pieces, against the text held whole in memory and sliced; language_model's reader on a
text file (held-out splits, a TFDS text) and its data state brought back on resuming."""

import json
import math
import pickle
import random

import numpy as np
import pytest
import tensorflow as tf
from helpers import write
from tiny_data import tiny_lm

from seqtasks.recipes.base import Example
from seqtasks.recipes.language_model.data import TextPrefix, TextTail
from seqtasks.recipes.language_model.preprocessor import LanguageModelPreprocessor, text_chunks
from seqtasks.recipes.translation import builtin as translation


def lines_of(text):
    return [Example(line, None, f"t.txt:{i}")
            for i, line in enumerate(text.splitlines(keepends=True), 1)]


def random_text(seed, lines=200):
    rng = random.Random(seed)
    words = ["a", "bb", "ccc", "dddd", "Éé", "ß"]
    return "".join(" ".join(rng.choices(words, k=rng.randint(0, 9))) + "\n"
                   for _ in range(lines))


@pytest.mark.parametrize("fractions,limit", [
    ({"test": 0.1, "validation": 0.1}, 10**9),
    ({"test": 0.25}, 10**9),
    ({"validation": 0.3}, 10**9),
    ({"test": 0.1, "validation": 0.1}, 37),
    ({"test": 0.5, "validation": 0.5}, 5),
    ({}, 10**9),
])
def test_tail_is_the_end_of_the_text_sliced(fractions, limit):
    text = random_text(1)
    tail = TextTail(fractions, limit)
    train = list(tail.training_lines(iter(lines_of(text))))
    # the reference: the whole text in memory, sliced from the end
    end, expected = len(text), {}
    for split in ("test", "validation"):
        if split in fractions:
            start = max(int(end * (1 - fractions[split])), end - limit)
            expected[split], end = text[start:end], start
    assert "".join(e.input for e in train) == text[:end]
    assert {s: "".join(e.input for e in held) for s, held in tail.held.items()} == expected
    assert (tail.train_chars, tail.train_lines) == (end, len(train))
    assert tail.total_chars == len(text)
    # lines keep where they came from, in order (a cut line is in both parts)
    wheres = [e.where for e in train] + [e.where for s in ("validation", "test")
                                         for e in tail.held.get(s, [])]
    numbers = [int(w.split(":")[1]) for w in wheres]
    assert numbers == sorted(numbers) and len(set(numbers)) >= len(numbers) - 2

    prefix = TextPrefix(lines_of(text), tail.train_chars, tail.train_lines)
    assert "".join(e.input for e in prefix) == text[:end]
    assert len(list(prefix)) == len(prefix) == len(train)


def test_tail_holds_only_the_last_characters():
    """Lines before the last ``limit x splits`` characters go on as soon as they are read:
    while reading, what was read but not handed on stays within about 200 characters."""
    text = random_text(2, lines=2000)
    lines = lines_of(text)
    longest = max(len(e.input) for e in lines)
    tail = TextTail({"test": 0.5, "validation": 0.5}, 100)
    read = [0, 0]  # lines, characters

    def source():
        for example in lines:
            read[0] += 1
            read[1] += len(example.input)
            yield example

    handed = 0
    for example in tail.training_lines(source()):
        handed += len(example.input)
        if read[0] < len(lines):
            assert read[1] - handed <= 200 + longest
    assert handed == len(text) - 200
    assert "".join(e.input for e in tail.held["test"]) == text[-100:]


@pytest.mark.parametrize("level", ["char", "word"])
def test_pieces_give_the_tokens_of_the_whole_text(level):
    """Words run across line and piece ends (lines without a newline, Unicode spaces), as the
    text joined."""
    rng = random.Random(3)
    lines = ["".join(rng.choices("ab Cd\n\xa0\u3000", k=rng.randint(0, 7))) for _ in range(300)]
    examples = [Example(line, None, "x") for line in lines]
    whole = "".join(lines)
    expected = list(whole) if level == "char" else whole.split()
    for size in (1, 2, 7, 4096):
        pieces = list(text_chunks(examples, level, size=size))
        tokens = [t for p in pieces for t in (list(p) if level == "char" else p.split())]
        assert tokens == expected


@pytest.mark.parametrize("level", ["char", "word"])
def test_training_and_serving_tokenize_alike(level):
    """One tokenizer: the ids a model trains on (a piece at a time, in Python) are the ids the
    export reads from a prompt (in graph), whatever the whitespace and case. The reference is
    Python's own str.split and str.lower, which these texts do not trip."""
    text = "Straße\xa0zum İ-Punkt\u2003ΣΟΦΙΑ\tund\u3000so\x1cweiter \n"
    lines = [text[:9], text[9:20], text[20:]]
    preprocessor = LanguageModelPreprocessor(level, lowercase=True)
    preprocessor.adapt(lines_of("".join(lines)))
    expected = list(text.lower()) if level == "char" else text.lower().split()
    index = {t: i + 1 for i, t in enumerate(preprocessor.vocabulary)}
    assert set(index) == set(expected)
    trained = preprocessor.stream_ids([Example(line, None, "x") for line in lines])
    np.testing.assert_array_equal(trained, [index[t] for t in expected])
    served, lengths = preprocessor.prompt_ids(tf.constant([text]))
    np.testing.assert_array_equal(served[0, :int(lengths[0])], trained)


@pytest.mark.parametrize("level", ["char", "word"])
def test_ids_in_pieces_match_a_dictionary_lookup(level):
    text = random_text(4)
    preprocessor = LanguageModelPreprocessor(level, max_tokens=5)
    preprocessor.adapt(lines_of(text))
    tokens = list(text) if level == "char" else text.split()
    index = {t: i + 1 for i, t in enumerate(preprocessor.vocabulary)}
    expected = np.array([index.get(t, 0) for t in tokens])
    np.testing.assert_array_equal(preprocessor.stream_ids(lines_of(text)), expected)
    assert (expected == 0).any() and len(preprocessor.vocabulary) == 4
    # the most frequent tokens, counted by hand
    counts = {t: tokens.count(t) for t in set(tokens)}
    assert [counts[t] for t in preprocessor.vocabulary] == sorted(counts.values(),
                                                                    reverse=True)[:4]


def adapted_splits(recipe, overrides):
    """The splits after the adaptation pass (which cuts the held-out texts)."""
    task = recipe(recipe.default_config(overrides))
    splits = task.reader.splits()
    task.adapt(splits)
    return {split: list(examples) for split, examples in splits.items()}


def test_held_out_text_is_cut_from_the_end(text_file, tmp_path):
    """Without data.test the last test_fraction of the characters tests and the
    validation_fraction before it validates (a line is cut where the share ends); with it,
    validation is the end of train. Examples are lines, ``file:line``; a list of files is
    read in order."""
    import seqtasks

    recipe = seqtasks.get_recipe("language_model")
    text = text_file.read_text()
    splits = adapted_splits(recipe, [f"data.train={text_file}", "data.test_fraction=0.2"])
    joined = {s: "".join(e.input for e in examples) for s, examples in splits.items()}
    test_cut = int(len(text) * 0.8)
    validation_cut = int(test_cut * 0.9)
    assert joined == {"train": text[:validation_cut], "validation": text[validation_cut:test_cut],
                      "test": text[test_cut:]}
    assert splits["train"][1][:3] == (text.splitlines(keepends=True)[1], None, f"{text_file}:2")

    other = write(tmp_path / "more.txt", "the end .\n")
    splits = adapted_splits(recipe, [f"data.train=[{str(text_file)!r}, {str(other)!r}]",
                                     f"data.test={other}"])
    train = text + "the end .\n"
    cut = int(len(train) * 0.9)
    assert "".join(e.input for e in splits["validation"]) == train[cut:]
    assert "".join(e.input for e in splits["train"]) == train[:cut]
    assert splits["test"][0].where == f"{other}:1"


def test_held_out_text_is_at_most_the_limit(text_file):
    """data.held_out_limit caps each held-out text (in characters) from the end."""
    import seqtasks

    recipe = seqtasks.get_recipe("language_model")
    text = text_file.read_text()
    splits = adapted_splits(recipe, [f"data.train={text_file}", "data.held_out_limit=500"])
    joined = {s: "".join(e.input for e in examples) for s, examples in splits.items()}
    assert joined == {"train": text[:-1000], "validation": text[-1000:-500],
                      "test": text[-500:]}


@pytest.mark.slow
def test_tfds_tiny_shakespeare_with_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    import seqtasks

    texts = {split: "\n".join(s for s, _ in translation.generate(60, seed=seed))
             for split, seed in (("train", 1), ("test", 2))}

    def as_dataset(builder, split=None, **kwargs):
        return tf.data.Dataset.from_tensors({"text": tf.constant(texts[split])})

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        result = seqtasks.run("language_model", tiny_lm(
            "data.train=tfds:tiny_shakespeare:train", "data.test=tfds:tiny_shakespeare:test",
            f"export.dir={tmp_path / 'x'}", epochs=1),
            output=tmp_path / "run", echo=lambda *_: None, verbose=0)
    # the mock's test text, split into characters here and scored by the export in one call
    # from a zero state, gives the run's metrics (which carried the state across chunks)
    chars = list(texts["test"])
    score = tf.saved_model.load(str(result.export_dir)).signatures["score"]
    out = score(tokens=tf.constant([chars]), state=tf.zeros([1, 0]))
    steps = len(chars) - 1
    test = result.metrics["test"]
    assert test["accuracy"] == round(int(out["correct"][0]) / steps, 6)
    assert test["perplexity"] == pytest.approx(
        math.exp(-float(out["log_likelihood"][0]) / steps), rel=1e-4)
    vocabulary = json.loads((result.export_dir / "assets.extra" / "seqtasks.json").read_text())
    assert set(vocabulary["vocabulary"]) <= set(texts["train"])


def test_a_resumed_run_reuses_the_data_state_and_the_encoded_text(text_file, tmp_path):
    """What the adaptation pass learned (vocabulary, held-out texts, token marks) comes back
    from :meth:`data_state`, and the training ids from the file the first run wrote: the
    resumed run reads no training text (the file may even be gone) and gets the same data."""
    import seqtasks

    recipe = seqtasks.get_recipe("language_model")
    config = recipe.default_config(tiny_lm(f"data.train={text_file}", "data.cache=disk"))
    first = recipe(config)
    first.cache_dir = tmp_path / "cache"
    built = first.build_datasets()
    state = pickle.loads(pickle.dumps(first.data_state()))
    assert (tmp_path / "cache" / "train.ids").exists()

    hidden = text_file.rename(tmp_path / "elsewhere.txt")
    try:
        again = recipe(config)
        again.cache_dir = tmp_path / "cache"
        rebuilt = again.build_datasets(state)
    finally:
        hidden.rename(text_file)
    assert again.preprocessor.vocabulary == first.preprocessor.vocabulary
    assert again.summary == first.summary
    for split in built:
        assert [(x.numpy().tolist(), y.numpy().tolist()) for x, y in rebuilt[split]] == \
            [(x.numpy().tolist(), y.numpy().tolist()) for x, y in built[split]]
