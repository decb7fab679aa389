"""The built-in tagging data: deterministic, well-formed, ambiguous words in every listed role."""
from collections import Counter, defaultdict

import pytest

from seqtasks.recipes.tagging import builtin as tagging

UPOS = {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "NOUN", "NUM", "PART", "PRON", "PROPN",
        "PUNCT", "SCONJ", "VERB"}


@pytest.fixture(scope="module")
def sentences():
    return tagging.generate(3000, 0)


def _tag_counts(sentences):
    return Counter((word.lower(), upos) for words, tags, _ in sentences
                   for word, upos in zip(words, tags))


def test_same_seed_same_data_other_seed_other_data():
    assert tagging.generate(200, 7) == tagging.generate(200, 7)
    assert tagging.generate(200, 7) != tagging.generate(200, 8)
    assert tagging.generate(50, 7) == tagging.generate(200, 7)[:50]
    assert tagging.splits(3) == tagging.splits(3)
    assert tagging.splits(3)["train"] != tagging.splits(4)["train"]


def test_parallel_lists_within_length_bounds(sentences):
    assert len(sentences) == 3000
    lengths = set()
    for words, upos, ner in sentences:
        assert len(words) == len(upos) == len(ner)
        assert tagging.MIN_TOKENS <= len(words) <= tagging.MAX_TOKENS
        assert all(isinstance(word, str) and word and " " not in word for word in words)
        lengths.add(len(words))
    assert min(lengths) == 4 and max(lengths) >= 20


def test_tags_are_upos_and_sentences_end_in_punctuation(sentences):
    assert set(tagging.UPOS) == UPOS
    seen = set()
    for words, upos, _ in sentences:
        assert set(upos) <= UPOS, words
        assert upos[-1] == "PUNCT" and words[-1] in {".", "?", "!"}
        seen.update(upos)
    assert seen == UPOS


def test_ner_is_valid_iob2_on_names_only(sentences):
    types = Counter()
    for words, upos, ner in sentences:
        previous = "O"
        for word, pos, tag in zip(words, upos, ner):
            assert tag in tagging.NER
            if tag.startswith("I-"):
                assert previous in (f"B-{tag[2:]}", tag), (words, ner)
            if tag != "O":
                assert pos == "PROPN", (word, pos, tag)
                types[tag] += 1
            previous = tag
    assert set(types) == set(tagging.NER) - {"O"}


def test_capitals_only_start_sentences_and_names(sentences):
    for words, upos, _ in sentences:
        assert words[0][0].isupper() or words[0][0].isdigit(), words
        for word, pos in zip(words[1:], upos[1:]):
            assert word[0].isupper() == (pos == "PROPN" or word == "I"), (word, pos, words)


def test_ambiguous_words_take_every_listed_tag_in_the_data(sentences):
    expected = {"book": {"NOUN", "VERB"}, "can": {"AUX", "NOUN"}, "saw": {"NOUN", "VERB"},
                "watch": {"NOUN", "VERB"}, "run": {"NOUN", "VERB"}, "fly": {"NOUN", "VERB"},
                "light": {"ADJ", "NOUN", "VERB"}, "that": {"DET", "PRON", "SCONJ"},
                "like": {"VERB", "ADP"}, "play": {"NOUN", "VERB"}, "duck": {"NOUN", "VERB"},
                "well": {"ADV", "NOUN"}, "back": {"ADV", "NOUN", "VERB"}, "to": {"PART", "ADP"}}
    assert {word: tagging.AMBIGUOUS.get(word) for word in expected} == expected
    assert len(tagging.AMBIGUOUS) >= 10
    counts = _tag_counts(sentences)
    missing = [(word, tag) for word, tags in tagging.AMBIGUOUS.items() for tag in sorted(tags)
               if counts[word, tag] == 0]
    assert not missing


def test_ambiguous_lists_exactly_the_forms_seen_with_several_tags(sentences):
    tags = defaultdict(set)
    for word, upos in _tag_counts(sentences):
        tags[word].add(upos)
    assert {word: found for word, found in tags.items() if len(found) > 1} == tagging.AMBIGUOUS


def test_the_word_alone_does_not_give_the_tag(sentences):
    """Tagging each ambiguous token with its word's most frequent tag gets many wrong."""
    counts = _tag_counts(sentences)
    best = {}
    for (word, upos), count in counts.items():
        if count > counts[word, best.get(word)]:
            best[word] = upos
    right = total = 0
    for (word, upos), count in counts.items():
        if word in tagging.AMBIGUOUS:
            total += count
            right += count * (best[word] == upos)
    assert total > 3000 and right / total < 0.8


def test_split_sizes_and_pairs():
    data = tagging.splits(42)
    assert {name: len(pairs) for name, pairs in data.items()} == {
        "train": 3000, "validation": 300, "test": 300}
    for pairs in data.values():
        assert all(len(words) == len(upos) for words, upos in pairs)
        assert all(set(upos) <= UPOS for _, upos in pairs)
    assert data["validation"] != data["train"][:300]
    assert data["test"] != data["train"][:300] and data["test"] != data["validation"]


def test_test_split_is_mostly_new_sentences():
    data = tagging.splits(42)
    train = {tuple(words) for words, _ in data["train"]}
    novel = sum(tuple(words) not in train for words, _ in data["test"])
    assert novel >= 0.3 * len(data["test"])
