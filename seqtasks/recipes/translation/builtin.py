"""A generated translation data set: English-like sentences and their translation into Tesh, a
small invented language whose grammar differs from English's, so that a model has to look at
other source positions than the one it is translating (attention) and carry features across the
sentence (agreement).

Source sentences are lowercase English with the final punctuation as a token of its own:
"the small dog sees two red birds ." The grammar: a subject (a pronoun, a noun phrase, or two
noun phrases joined by "and"), a verb in the present or the past, perhaps negated ("does not
see", "did not see"), the object of a transitive verb (an object pronoun, a noun phrase or two),
and perhaps a prepositional phrase ("in the house", "with a red ball"). A noun phrase is a
determiner ("the", "a"/"an", "this"/"these", a number "one" to "five", or none before a plural),
up to two adjectives and a noun. Sentences have 3 to 20 tokens.

Tesh differs in order:

* the verb comes last (subject, object, verb: SOV), after the negation particle "nu" and the
  past particle "ka": "nu ka vimen-et" is "did not see";
* a preposition is a postposition ("in the house" is "la domi ve"), and its phrase stands just
  before the verb, after the object;
* adjectives follow the noun, in mirror order: "the big red dog" is "lo kelo rus-o dorv-o";

and in agreement:

* every noun has a gender, masculine or feminine (``NOUNS``, not guessable from its form), and a
  plural suffix for it: "-i" (masculine), "-s" (feminine): "kelo-i" dogs, "pira-s" birds;
* articles, demonstratives, "one" and adjectives agree with their noun in gender and number:
  endings "o" (masculine singular), "a" (feminine singular), "oi" and "ai" (plural), so "the" is
  lo / la / loi / lai, "this"/"these" tso / tsa / tsoi / tsai, "red" rus-o / rus-a / rus-oi /
  rus-ai; "a"/"an" is en / ena and "one" unu / una; "two" to "five" do not change;
* the verb agrees with its subject in person and number: -u (I), -is (you), -et (he, she, it,
  a singular noun phrase), -amo (we), -ont (they, a plural or coordinated noun phrase).

Pronouns have object forms in both languages ("he" hon, "him" honek). "the small dog sees two
red birds ." translates to "lo kelo pik-o sani pira-s rus-ai vimen-et ." The translation is a
function of the source sentence: the grammar has no ambiguous source words or attachments.
Generation is deterministic for a given seed.
"""

import random

MIN_TOKENS, MAX_TOKENS = 3, 20

# English noun -> (Tesh stem, gender, kind). Kinds choose what a verb or a preposition takes.
NOUNS = {
    "man": ("varo", "m", "person"), "woman": ("lena", "f", "person"),
    "boy": ("tiko", "m", "person"), "girl": ("mira", "f", "person"),
    "child": ("nilu", "f", "person"), "teacher": ("soremi", "m", "person"),
    "friend": ("kaveli", "m", "person"), "doctor": ("dazu", "f", "person"),
    "farmer": ("pomaro", "f", "person"), "king": ("ardo", "m", "person"),
    "dog": ("kelo", "m", "animal"), "cat": ("mishu", "f", "animal"),
    "bird": ("pira", "f", "animal"), "horse": ("tashu", "m", "animal"),
    "cow": ("muvi", "f", "animal"), "mouse": ("tisu", "m", "animal"),
    "fox": ("rena", "m", "animal"), "wolf": ("gorun", "f", "animal"),
    "duck": ("kwalu", "f", "animal"), "rabbit": ("lapi", "m", "animal"),
    "book": ("soma", "m", "thing"), "apple": ("anu", "f", "thing"),
    "ball": ("bolu", "m", "thing"), "box": ("kesta", "m", "thing"),
    "cup": ("tazi", "f", "thing"), "key": ("kiva", "f", "thing"),
    "letter": ("pesa", "m", "thing"), "stone": ("lito", "f", "thing"),
    "flower": ("yuna", "m", "thing"), "hat": ("kapo", "f", "thing"),
    "egg": ("ovi", "m", "thing"),
    "house": ("domi", "f", "place"), "garden": ("gaveno", "m", "place"),
    "river": ("nalu", "f", "place"), "park": ("pasko", "m", "place"),
    "city": ("urbi", "f", "place"), "forest": ("silvo", "m", "place"),
    "school": ("skeli", "f", "place"),
    "table": ("meso", "f", "fixture"), "chair": ("sedu", "m", "fixture"),
    "bridge": ("trevi", "m", "fixture"), "tree": ("arbo", "f", "fixture"),
    "bed": ("kuta", "m", "fixture"), "wall": ("mura", "f", "fixture"),
}
IRREGULAR_PLURALS = {"man": "men", "woman": "women", "child": "children", "mouse": "mice",
                     "wolf": "wolves"}

# English adjective -> Tesh stem; ANIMATE ones only describe people and animals.
ADJECTIVES = {
    "big": "dorv", "small": "pik", "red": "rus", "blue": "sel", "green": "vend", "old": "kor",
    "new": "nev", "white": "blan", "black": "nor", "good": "bel", "bad": "mak", "tall": "hal",
    "quiet": "sil", "happy": "lum", "sad": "grev", "hungry": "fam", "young": "jun",
    "clever": "sag", "fast": "zet", "slow": "tom",
}
ANIMATE_ADJECTIVES = ("happy", "sad", "hungry", "young", "clever", "fast", "slow")

# English verb -> (Tesh stem, kinds its object comes from; None for an intransitive verb).
_ANY = ("person", "animal", "thing", "place", "fixture")
_ANIMATE = ("person", "animal")
VERBS = {
    "see": ("vimen", _ANY), "like": ("lubo", _ANY), "draw": ("skera", _ANY),
    "find": ("trasi", ("person", "animal", "thing")), "follow": ("sekon", _ANIMATE),
    "help": ("avura", _ANIMATE), "call": ("klamo", _ANIMATE), "carry": ("bersa", ("thing",)),
    "hold": ("tenu", ("thing",)), "take": ("kapa", ("thing",)), "want": ("volu", ("thing",)),
    "open": ("uvra", ("thing",)),
    "sleep": ("somu", None), "run": ("kuro", None), "swim": ("plivu", None),
    "sing": ("lirei", None), "wait": ("pazu", None), "laugh": ("gelu", None),
    "walk": ("maro", None), "jump": ("hopi", None), "fall": ("kado", None),
    "cry": ("lakri", None),
}
IRREGULAR_PAST = {"see": "saw", "draw": "drew", "find": "found", "hold": "held", "take": "took",
                  "sleep": "slept", "run": "ran", "swim": "swam", "sing": "sang", "fall": "fell"}

# English preposition -> (Tesh postposition, kinds of noun it takes).
PREPOSITIONS = {
    "in": ("ve", ("place",)), "on": ("tal", ("fixture",)), "under": ("dum", ("fixture",)),
    "behind": ("oru", ("fixture", "place")), "near": ("pren", ("place", "fixture", "person")),
    "with": ("sa", ("person", "animal", "thing")),
}

# Persons: "1sg" (I), "2" (you), "3sg", "1pl" (we), "3pl".
SUBJECT_PRONOUNS = {"i": ("eme", "1sg"), "you": ("tavi", "2"), "he": ("hon", "3sg"),
                    "she": ("hena", "3sg"), "it": ("ota", "3sg"), "we": ("emen", "1pl"),
                    "they": ("honi", "3pl")}
OBJECT_PRONOUNS = {"me": ("emek", "1sg"), "you": ("tavik", "2"), "him": ("honek", "3sg"),
                   "her": ("henak", "3sg"), "it": ("otak", "3sg"), "us": ("emenek", "1pl"),
                   "them": ("honik", "3pl")}
VERB_ENDINGS = {"1sg": "u", "2": "is", "3sg": "et", "1pl": "amo", "3pl": "ont"}
NOUN_PLURALS = {"m": "i", "f": "s"}
# (gender, number) -> the ending of articles, demonstratives and adjectives.
ENDINGS = {("m", "sg"): "o", ("f", "sg"): "a", ("m", "pl"): "oi", ("f", "pl"): "ai"}
DEFINITE, DEMONSTRATIVE = "l", "ts"  # + ENDINGS: lo, la, loi, lai; tso, tsa, tsoi, tsai
INDEFINITE = {"m": "en", "f": "ena"}
ONE = {"m": "unu", "f": "una"}
NUMBERS = {"two": "sani", "three": "tori", "four": "kwari", "five": "peni"}
AND, NOT, PAST = "ei", "nu", "ka"
PUNCTUATION = (".", "!")

_VOWELS = "aeiou"


def english_plural(noun):
    if noun in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[noun]
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in _VOWELS:
        return noun[:-1] + "ies"
    return noun + "s"


def english_verb(verb, form):
    """``verb`` in ``form``: "base", "3sg" (sees) or "past" (saw)."""
    if form == "base":
        return verb
    consonant_y = verb.endswith("y") and verb[-2] not in _VOWELS
    if form == "3sg":
        if verb.endswith(("s", "x", "ch", "sh")):
            return verb + "es"
        return verb[:-1] + "ies" if consonant_y else verb + "s"
    if verb in IRREGULAR_PAST:
        return IRREGULAR_PAST[verb]
    if verb.endswith("e"):
        return verb + "d"
    return verb[:-1] + "ied" if consonant_y else verb + "ed"


def tesh_noun(noun, number):
    stem, gender, _ = NOUNS[noun]
    return stem if number == "sg" else f"{stem}-{NOUN_PLURALS[gender]}"


def tesh_adjective(adjective, gender, number):
    return f"{ADJECTIVES[adjective]}-{ENDINGS[gender, number]}"


def tesh_verb(verb, person):
    return f"{VERBS[verb][0]}-{VERB_ENDINGS[person]}"


_KINDS = ("person", "animal", "thing", "place", "fixture")
_BY_KIND = {kind: [noun for noun, (_, _, k) in NOUNS.items() if k == kind] for kind in _KINDS}
_ALL_ADJECTIVES = list(ADJECTIVES)
_INANIMATE_ADJECTIVES = [a for a in ADJECTIVES if a not in ANIMATE_ADJECTIVES]
_TRANSITIVE = [verb for verb, (_, kinds) in VERBS.items() if kinds is not None]
_INTRANSITIVE = [verb for verb, (_, kinds) in VERBS.items() if kinds is None]
_SUBJECT_PRONOUNS = list(SUBJECT_PRONOUNS)
_OBJECT_PRONOUNS = list(OBJECT_PRONOUNS)
_PREPOSITIONS = list(PREPOSITIONS)
_NUMBERS = list(NUMBERS)
_REFLEXIVE = {"1sg", "2", "1pl"}  # "i see me": English would say "myself"


def _np(rng, kinds):
    """A noun phrase of one of ``kinds``: (English tokens, Tesh tokens)."""
    noun = rng.choice(_BY_KIND[rng.choice(kinds)])
    _, gender, kind = NOUNS[noun]
    number = "pl" if rng.random() < 0.35 else "sg"
    r = rng.random()
    if number == "sg":
        if r < 0.55:
            source, target = ["the"], [DEFINITE + ENDINGS[gender, number]]
        elif r < 0.82:
            source, target = ["a"], [INDEFINITE[gender]]
        elif r < 0.94:
            source, target = ["this"], [DEMONSTRATIVE + ENDINGS[gender, number]]
        else:
            source, target = ["one"], [ONE[gender]]
    elif r < 0.35:
        source, target = ["the"], [DEFINITE + ENDINGS[gender, number]]
    elif r < 0.5:
        source, target = ["these"], [DEMONSTRATIVE + ENDINGS[gender, number]]
    elif r < 0.8:
        number_word = rng.choice(_NUMBERS)
        source, target = [number_word], [NUMBERS[number_word]]
    else:
        source, target = [], []
    r = rng.random()
    count = 0 if r < 0.55 else 1 if r < 0.9 else 2
    pool = _ALL_ADJECTIVES if kind in ("person", "animal") else _INANIMATE_ADJECTIVES
    adjectives = rng.sample(pool, count)
    source += adjectives + [noun if number == "sg" else english_plural(noun)]
    if source[0] == "a" and source[1][0] in _VOWELS:
        source[0] = "an"
    target.append(tesh_noun(noun, number))
    target += [tesh_adjective(a, gender, number) for a in reversed(adjectives)]
    return source, target


def _noun_phrases(rng, kinds, coordinate):
    """One noun phrase, or with probability ``coordinate`` two joined by "and": (English, Tesh,
    person)."""
    source, target = _np(rng, kinds)
    if rng.random() < coordinate:
        other_source, other_target = _np(rng, kinds)
        return source + ["and"] + other_source, target + [AND] + other_target, "3pl"
    number = "sg" if source[-1] in NOUNS else "pl"
    return source, target, f"3{number}"


def _sentence(rng):
    """One (English tokens, Tesh tokens) pair."""
    if rng.random() < 0.3:
        pronoun = rng.choice(_SUBJECT_PRONOUNS)
        subject_target, person = SUBJECT_PRONOUNS[pronoun]
        subject, subject_target = [pronoun], [subject_target]
    else:
        subject, subject_target, person = _noun_phrases(rng, _ANIMATE, 0.1)
    past = rng.random() < 0.35
    negated = rng.random() < 0.15
    transitive = rng.random() < 0.6
    verb = rng.choice(_TRANSITIVE if transitive else _INTRANSITIVE)
    if negated:
        auxiliary = "did" if past else "does" if person == "3sg" else "do"
        verb_source = [auxiliary, "not", verb]
    else:
        verb_source = [english_verb(verb, "past" if past else "3sg" if person == "3sg" else "base")]
    verb_target = [NOT] * negated + [PAST] * past + [tesh_verb(verb, person)]
    object_source, object_target = [], []
    if transitive:
        if rng.random() < 0.15:
            pronouns = [p for p in _OBJECT_PRONOUNS
                        if not (OBJECT_PRONOUNS[p][1] == person and person in _REFLEXIVE)]
            pronoun = rng.choice(pronouns)
            object_source, object_target = [pronoun], [OBJECT_PRONOUNS[pronoun][0]]
        else:
            object_source, object_target, _ = _noun_phrases(rng, VERBS[verb][1], 0.1)
    pp_source, pp_target = [], []
    if rng.random() < 0.35:
        preposition = rng.choice(_PREPOSITIONS)
        postposition, kinds = PREPOSITIONS[preposition]
        np_source, np_target = _np(rng, kinds)
        pp_source, pp_target = [preposition] + np_source, np_target + [postposition]
    end = "." if rng.random() < 0.9 else "!"
    source = subject + verb_source + object_source + pp_source + [end]
    target = subject_target + object_target + pp_target + verb_target + [end]
    return source, target


def generate(count, seed):
    """``count`` ``(english, tesh)`` sentence pairs, tokens separated by single spaces."""
    rng = random.Random(seed)
    pairs = []
    while len(pairs) < count:
        source, target = _sentence(rng)
        if MIN_TOKENS <= len(source) <= MAX_TOKENS and MIN_TOKENS <= len(target) <= MAX_TOKENS:
            pairs.append((" ".join(source), " ".join(target)))
    return pairs


def splits(seed=42, train=6000, validation=300, test=300):
    """Train, validation and test pairs from three seeds drawn from ``seed``."""
    seeds = random.Random(seed)
    sizes = {"train": train, "validation": validation, "test": test}
    return {name: generate(size, seeds.getrandbits(64)) for name, size in sizes.items()}


def _vocabularies():
    source = set(PUNCTUATION) | {"and", "not", "do", "does", "did", "the", "a", "an", "this",
                                 "these", "one"}
    target = set(PUNCTUATION) | {AND, NOT, PAST} | set(INDEFINITE.values()) | set(ONE.values())
    target |= {prefix + ending for prefix in (DEFINITE, DEMONSTRATIVE)
               for ending in ENDINGS.values()}
    source |= set(NUMBERS)
    target |= set(NUMBERS.values())
    for noun in NOUNS:
        source |= {noun, english_plural(noun)}
        target |= {tesh_noun(noun, number) for number in ("sg", "pl")}
    for adjective in ADJECTIVES:
        source.add(adjective)
        target |= {tesh_adjective(adjective, g, n) for g, n in ENDINGS}
    for verb in VERBS:
        source |= {english_verb(verb, form) for form in ("base", "3sg", "past")}
        target |= {tesh_verb(verb, person) for person in VERB_ENDINGS}
    for pronouns in (SUBJECT_PRONOUNS, OBJECT_PRONOUNS):
        source |= set(pronouns)
        target |= {form for form, _ in pronouns.values()}
    source |= set(PREPOSITIONS)
    target |= {postposition for postposition, _ in PREPOSITIONS.values()}
    return sorted(source), sorted(target)


# Every token the grammar can produce, on each side, sorted.
SOURCE_VOCABULARY, TARGET_VOCABULARY = _vocabularies()
