"""The built-in translation data: deterministic, reordered (verb-final, postpositions, adjectives
after nouns), agreeing in gender, number and person, and a function of the source sentence."""
from collections import Counter

import pytest

from seqtasks.recipes.translation import builtin as tesh


def _target_features():
    """Tesh word form -> (part of speech, features), from the lexicon."""
    features = {}
    for noun, (_, gender, _) in tesh.NOUNS.items():
        for number in ("sg", "pl"):
            features[tesh.tesh_noun(noun, number)] = ("NOUN", (gender, number))
    for adjective in tesh.ADJECTIVES:
        for gender, number in tesh.ENDINGS:
            features[tesh.tesh_adjective(adjective, gender, number)] = ("ADJ", (gender, number))
    for (gender, number), ending in tesh.ENDINGS.items():
        features[tesh.DEFINITE + ending] = ("DET", (gender, number))
        features[tesh.DEMONSTRATIVE + ending] = ("DET", (gender, number))
    for gender in ("m", "f"):
        features[tesh.INDEFINITE[gender]] = ("DET", (gender, "sg"))
        features[tesh.ONE[gender]] = ("DET", (gender, "sg"))
    for verb in tesh.VERBS:
        for person in tesh.VERB_ENDINGS:
            features[tesh.tesh_verb(verb, person)] = ("VERB", person)
    return features


TARGET = _target_features()
SOURCE_VERBS = {tesh.english_verb(verb, form) for verb in tesh.VERBS
                for form in ("base", "3sg", "past")} | {"do", "does", "did"}


@pytest.fixture(scope="module")
def data():
    return tesh.splits(42)


@pytest.fixture(scope="module")
def pairs(data):
    return [pair for split in data.values() for pair in split]


def _source_verb(words):
    return next(i for i, word in enumerate(words) if word in SOURCE_VERBS)


def test_same_seed_same_data_other_seed_other_data():
    assert tesh.generate(200, 7) == tesh.generate(200, 7)
    assert tesh.generate(200, 7) != tesh.generate(200, 8)
    assert tesh.generate(50, 7) == tesh.generate(200, 7)[:50]
    assert tesh.splits(3, 500, 50, 50) == tesh.splits(3, 500, 50, 50)
    assert tesh.splits(3, 500, 50, 50)["train"] != tesh.splits(4, 500, 50, 50)["train"]


def test_split_sizes_and_well_formed_pairs(data):
    assert {name: len(split) for name, split in data.items()} == {
        "train": 6000, "validation": 300, "test": 300}
    lengths = Counter()
    for source, target in (pair for split in data.values() for pair in split):
        for sentence in (source, target):
            words = sentence.split(" ")
            assert all(words) and sentence == sentence.strip(), sentence
            assert tesh.MIN_TOKENS <= len(words) <= tesh.MAX_TOKENS
            assert words[-1] in tesh.PUNCTUATION and sentence.count(words[-1]) == 1
            assert sentence == sentence.lower()
        assert source[-1] == target[-1]
        lengths[len(source.split())] += 1
    assert min(lengths) == 3 and max(lengths) >= 16
    assert data["test"] != data["validation"] and data["test"] != data["train"][:300]


def test_example_from_the_docstring():
    words = "the small dog sees two red birds .".split()
    assert tesh.tesh_noun("dog", "sg") == "kelo" and tesh.tesh_noun("bird", "pl") == "pira-s"
    assert tesh.tesh_adjective("small", "m", "sg") == "pik-o"
    assert tesh.tesh_adjective("red", "f", "pl") == "rus-ai"
    assert tesh.tesh_verb("see", "3sg") == "vimen-et"
    assert all(word in tesh.SOURCE_VOCABULARY for word in words)


def test_translation_is_a_function_of_the_source(pairs):
    translations = {}
    for source, target in pairs:
        assert translations.setdefault(source, target) == target, source


def test_verb_is_last_and_moves_past_the_object(pairs):
    moved = 0
    for source, target in pairs:
        words, translated = source.split(), target.split()
        assert TARGET[translated[-2]][0] == "VERB", target
        assert sum(TARGET.get(word, ("",))[0] == "VERB" for word in translated) == 1
        verb = _source_verb(words)
        if verb < len(words) - 2:  # an object or a prepositional phrase follows the verb
            moved += 1
            assert 0 < verb and len(translated) - 2 > 1
    assert moved > 0.6 * len(pairs)


def test_objects_stand_between_subject_and_verb(pairs):
    checked = 0
    for source, target in pairs:
        words, translated = source.split(), target.split()
        after_verb = words[_source_verb(words) + 1:-1]
        if after_verb[:1] == ["not"]:
            after_verb = after_verb[2:]
        if after_verb and after_verb[0] in tesh.OBJECT_PRONOUNS:
            form, _ = tesh.OBJECT_PRONOUNS[after_verb[0]]
            position = translated.index(form)
            assert 0 < position < len(translated) - 2, (source, target)
            checked += 1
    assert checked > 100


def test_prepositions_become_postpositions_before_the_verb(pairs):
    postpositions = {post: prep for prep, (post, _) in tesh.PREPOSITIONS.items()}
    checked = 0
    for source, target in pairs:
        words, translated = source.split(), target.split()
        found = [word for word in translated if word in postpositions]
        assert [postpositions[word] for word in found] == [
            word for word in words if word in tesh.PREPOSITIONS]
        if found:
            checked += 1
            position = translated.index(found[0])
            particles = translated[position + 1:-2]
            assert set(particles) <= {tesh.NOT, tesh.PAST}, target
            assert TARGET[translated[position - 1]][0] in ("NOUN", "ADJ"), target
    assert checked > 0.25 * len(pairs)


def test_adjectives_follow_the_noun_in_mirror_order(pairs):
    two = 0
    for source, target in pairs:
        words, translated = source.split(), target.split()
        english = [word for word in words if word in tesh.ADJECTIVES]
        stems = [word.split("-")[0] for word in translated if TARGET.get(word, ("",))[0] == "ADJ"]
        assert sorted(stems) == sorted(tesh.ADJECTIVES[word] for word in english)
        if len(set(english)) < len(english):
            continue  # an adjective used twice: positions are ambiguous
        for i, word in enumerate(words[:-1]):
            if word in tesh.ADJECTIVES and words[i + 1] in tesh.ADJECTIVES:
                two += 1
                first, second = tesh.ADJECTIVES[word], tesh.ADJECTIVES[words[i + 1]]
                assert stems.index(second) < stems.index(first), (source, target)
        for i, word in enumerate(translated):
            if TARGET.get(word, ("",))[0] == "ADJ":
                assert TARGET[translated[i - 1]][0] in ("NOUN", "ADJ"), target
    assert two > 50


def test_determiners_and_adjectives_agree_with_the_noun(pairs):
    genders = Counter()
    for _, target in pairs:
        translated = target.split()
        for i, word in enumerate(translated):
            kind, features = TARGET.get(word, ("", None))
            if kind != "NOUN":
                continue
            genders[features] += 1
            if i > 0 and TARGET.get(translated[i - 1], ("",))[0] == "DET":
                assert TARGET[translated[i - 1]][1] == features, target
            j = i + 1
            while TARGET.get(translated[j], ("",))[0] == "ADJ":
                assert TARGET[translated[j]][1] == features, target
                assert translated[j].endswith("-" + tesh.ENDINGS[features])
                j += 1
    assert set(genders) == set(tesh.ENDINGS)


def test_nouns_have_both_genders_not_told_by_their_form():
    genders = Counter(gender for _, gender, _ in tesh.NOUNS.values())
    assert genders["m"] >= 15 and genders["f"] >= 15
    by_last_letter = {}
    for stem, gender, _ in tesh.NOUNS.values():
        by_last_letter.setdefault(stem[-1], set()).add(gender)
    assert sum(len(found) == 2 for found in by_last_letter.values()) >= 3


def test_verb_agrees_with_the_subject(pairs):
    persons = Counter()
    for source, target in pairs:
        words = source.split()
        subject = words[:_source_verb(words)]
        if len(subject) == 1 and subject[0] in tesh.SUBJECT_PRONOUNS:
            person = tesh.SUBJECT_PRONOUNS[subject[0]][1]
        elif "and" in subject:
            person = "3pl"
        else:
            person = "3sg" if subject[-1] in tesh.NOUNS else "3pl"
        persons[person] += 1
        assert TARGET[target.split()[-2]] == ("VERB", person), (source, target)
    assert set(persons) == set(tesh.VERB_ENDINGS)


def test_negation_and_past_particles(pairs):
    counts = Counter()
    for source, target in pairs:
        words, translated = source.split(), target.split()
        negated = "not" in words
        past = "did" in words or any(
            tesh.english_verb(verb, "past") in words for verb in tesh.VERBS)
        assert translated[-2 - past - negated:-2] == [tesh.NOT] * negated + [tesh.PAST] * past
        assert translated.count(tesh.NOT) == negated and translated.count(tesh.PAST) == past
        counts[negated, past] += 1
    assert len(counts) == 4


def test_english_articles_and_plurals():
    assert tesh.english_plural("wolf") == "wolves" and tesh.english_plural("box") == "boxes"
    assert tesh.english_plural("city") == "cities" and tesh.english_plural("key") == "keys"
    assert [tesh.english_verb("cry", form) for form in ("base", "3sg", "past")] == [
        "cry", "cries", "cried"]
    pairs = tesh.generate(3000, 1)
    for source, _ in pairs:
        words = source.split()
        for i, word in enumerate(words[:-1]):
            if word in ("a", "an"):
                assert (word == "an") == (words[i + 1][0] in "aeiou"), source


def test_test_split_is_mostly_new_sentences(data):
    train = {source for source, _ in data["train"]}
    novel = sum(source not in train for source, _ in data["test"])
    assert novel >= 0.8 * len(data["test"])


def test_vocabularies(data):
    assert 150 < len(tesh.SOURCE_VOCABULARY) < 400
    assert 150 < len(tesh.TARGET_VOCABULARY) < 400
    assert set(tesh.SOURCE_VOCABULARY) & set(tesh.TARGET_VOCABULARY) == set(tesh.PUNCTUATION)
    source = {word for text, _ in data["train"] for word in text.split()}
    target = {word for _, text in data["train"] for word in text.split()}
    assert source <= set(tesh.SOURCE_VOCABULARY) and target <= set(tesh.TARGET_VOCABULARY)
    assert len(source) >= 0.95 * len(tesh.SOURCE_VOCABULARY)
    assert len(target) >= 0.95 * len(tesh.TARGET_VOCABULARY)


def test_lexicon_forms_are_distinct():
    """No two lexicon entries share a Tesh form, so every target word has one analysis."""
    forms = [stem for stem, _, _ in tesh.NOUNS.values()] + list(tesh.ADJECTIVES.values())
    forms += [stem for stem, _ in tesh.VERBS.values()]
    forms += [form for form, _ in tesh.SUBJECT_PRONOUNS.values()]
    forms += [form for form, _ in tesh.OBJECT_PRONOUNS.values()]
    forms += [post for post, _ in tesh.PREPOSITIONS.values()] + list(tesh.NUMBERS.values())
    forms += list(tesh.INDEFINITE.values()) + list(tesh.ONE.values())
    forms += [tesh.AND, tesh.NOT, tesh.PAST]
    forms += [prefix + ending for prefix in (tesh.DEFINITE, tesh.DEMONSTRATIVE)
              for ending in tesh.ENDINGS.values()]
    assert len(forms) == len(set(forms))
    assert len(tesh.NOUNS) >= 40 and len(tesh.ADJECTIVES) >= 20 and len(tesh.VERBS) >= 20
    assert all(form.isalpha() and form.islower() for form in forms)
