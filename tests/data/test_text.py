"""One long text as a stream: the held-out end cut in one pass, the training prefix, and the
token pieces, against the text held whole in memory and sliced."""

import random

import numpy as np
import pytest
import tensorflow as tf

from seqtasks.recipes.base import Example
from seqtasks.recipes.language_model.data import TextPrefix, TextTail
from seqtasks.recipes.language_model.preprocessor import LanguageModelPreprocessor, text_chunks


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
