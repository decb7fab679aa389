"""A generated translation data set: English-like sentences and their translation into Tesh, an
invented language whose word order and agreement differ from English's, so that a model has to
look at other source positions than the one it translates and carry features across a sentence.

English (lowercase, 3 to 20 tokens, "." or "!" a token of its own): a subject (a pronoun or one
or two noun phrases), a verb in the present or past, perhaps negated ("does not see"), the object
of a transitive verb, perhaps a prepositional phrase. A noun phrase is a determiner ("the", "a",
"this"/"these", "one" to "five", or none before a plural), up to two adjectives and a noun. Tesh:

* the verb comes last (SOV), after negation "nu" and past "ka": "nu ka vimen-et" is "did not see";
* postpositions, the phrase just before the verb: "in the house" is "la domi ve";
* adjectives follow the noun, in mirror order: "the big red dog" is "lo kelo rus-o dorv-o";
* every noun has a gender (``NOUNS``), with plural suffix "-i" (m) or "-s" (f): "pira-s" birds;
* articles, demonstratives, "one" and adjectives agree in gender and number (``ENDINGS`` o, a,
  oi, ai: "the" is lo / la / loi / lai); "a" is en / ena, "one" unu / una;
* the verb agrees with its subject: -u (I), -is (you), -et (he, she, it, a singular noun
  phrase), -amo (we), -ont (they, a plural or coordinated noun phrase);
* pronouns have object forms ("he" hon, "him" honek).

"the small dog sees two red birds ." is "lo kelo pik-o sani pira-s rus-ai vimen-et ." No word or
attachment is ambiguous, so the translation is a function of the source. Deterministic per seed.
"""

import random

MIN_TOKENS, MAX_TOKENS = 3, 20

# English noun -> (Tesh stem, gender, kind), from "noun:stem:gender" entries by kind. The kind
# chooses the verbs and prepositions that take the noun.
NOUNS = {noun: (stem, gender, kind) for kind, entries in {
    "person": "man:varo:m woman:lena:f boy:tiko:m girl:mira:f child:nilu:f teacher:soremi:m"
              " friend:kaveli:m doctor:dazu:f farmer:pomaro:f king:ardo:m",
    "animal": "dog:kelo:m cat:mishu:f bird:pira:f horse:tashu:m cow:muvi:f mouse:tisu:m"
              " fox:rena:m wolf:gorun:f duck:kwalu:f rabbit:lapi:m",
    "thing": "book:soma:m apple:anu:f ball:bolu:m box:kesta:m cup:tazi:f key:kiva:f"
             " letter:pesa:m stone:lito:f flower:yuna:m hat:kapo:f egg:ovi:m",
    "place": "house:domi:f garden:gaveno:m river:nalu:f park:pasko:m city:urbi:f forest:silvo:m"
             " school:skeli:f",
    "fixture": "table:meso:f chair:sedu:m bridge:trevi:m tree:arbo:f bed:kuta:m wall:mura:f",
}.items() for noun, stem, gender in (entry.split(":") for entry in entries.split())}
IRREGULAR_PLURALS = {"man": "men", "woman": "women", "child": "children", "mouse": "mice",
                     "wolf": "wolves"}

# English adjective -> Tesh stem; ANIMATE ones only describe people and animals.
ADJECTIVES = dict(entry.split(":") for entry in (
    "big:dorv small:pik red:rus blue:sel green:vend old:kor new:nev white:blan black:nor good:bel"
    " bad:mak tall:hal quiet:sil happy:lum sad:grev hungry:fam young:jun clever:sag fast:zet"
    " slow:tom").split())
ANIMATE_ADJECTIVES = ("happy", "sad", "hungry", "young", "clever", "fast", "slow")

# English verb -> (Tesh stem, kinds its object comes from; None for an intransitive verb).
_ANY = ("person", "animal", "thing", "place", "fixture")
_ANIMATE = ("person", "animal")
VERBS = {
    "see": ("vimen", _ANY), "like": ("lubo", _ANY), "draw": ("skera", _ANY),
    "find": ("trasi", ("person", "animal", "thing")), "follow": ("sekon", _ANIMATE),
    "help": ("avura", _ANIMATE), "call": ("klamo", _ANIMATE), "carry": ("bersa", ("thing",)),
    "hold": ("tenu", ("thing",)), "take": ("kapa", ("thing",)), "want": ("volu", ("thing",)),
    "open": ("uvra", ("thing",)), "sleep": ("somu", None), "run": ("kuro", None),
    "swim": ("plivu", None), "sing": ("lirei", None), "wait": ("pazu", None),
    "laugh": ("gelu", None), "walk": ("maro", None), "jump": ("hopi", None),
    "fall": ("kado", None), "cry": ("lakri", None),
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


def _add_s(word):
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2] not in _VOWELS:
        return word[:-1] + "ies"
    return word + "s"


def english_plural(noun):
    return IRREGULAR_PLURALS[noun] if noun in IRREGULAR_PLURALS else _add_s(noun)


def english_verb(verb, form):
    """``verb`` in ``form``: "base", "3sg" (sees) or "past" (saw)."""
    if form != "past":
        return verb if form == "base" else _add_s(verb)
    if verb in IRREGULAR_PAST:
        return IRREGULAR_PAST[verb]
    if verb.endswith("e"):
        return verb + "d"
    return verb[:-1] + "ied" if verb.endswith("y") and verb[-2] not in _VOWELS else verb + "ed"


def tesh_noun(noun, number):
    stem, gender, _ = NOUNS[noun]
    return stem if number == "sg" else f"{stem}-{NOUN_PLURALS[gender]}"


def tesh_adjective(adjective, gender, number):
    return f"{ADJECTIVES[adjective]}-{ENDINGS[gender, number]}"


def tesh_verb(verb, person):
    return f"{VERBS[verb][0]}-{VERB_ENDINGS[person]}"


_BY_KIND = {kind: [noun for noun, (_, _, k) in NOUNS.items() if k == kind] for kind in _ANY}
_INANIMATE_ADJECTIVES = [a for a in ADJECTIVES if a not in ANIMATE_ADJECTIVES]
_TRANSITIVE = [verb for verb, (_, kinds) in VERBS.items() if kinds is not None]
_INTRANSITIVE = [verb for verb, (_, kinds) in VERBS.items() if kinds is None]
_REFLEXIVE = {"1sg", "2", "1pl"}  # "i see me": English would say "myself"


def _np(rng, kinds):
    """A noun phrase of one of ``kinds``: (English tokens, Tesh tokens)."""
    noun = rng.choice(_BY_KIND[rng.choice(kinds)])
    _, gender, kind = NOUNS[noun]
    number = "pl" if rng.random() < 0.35 else "sg"
    r = rng.random()
    if number == "sg":
        word = "the" if r < 0.55 else "a" if r < 0.82 else "this" if r < 0.94 else "one"
    elif r < 0.8:
        word = "the" if r < 0.35 else "these" if r < 0.5 else rng.choice(list(NUMBERS))
    else:
        word = None  # a bare plural
    ending = ENDINGS[gender, number]
    determiners = {"the": DEFINITE + ending, "this": DEMONSTRATIVE + ending,
                   "these": DEMONSTRATIVE + ending, "a": INDEFINITE[gender], "one": ONE[gender]}
    source, target = ([word], [determiners.get(word) or NUMBERS[word]]) if word else ([], [])
    r = rng.random()
    count = 0 if r < 0.55 else 1 if r < 0.9 else 2
    adjectives = rng.sample(list(ADJECTIVES) if kind in _ANIMATE else _INANIMATE_ADJECTIVES, count)
    source += adjectives + [noun if number == "sg" else english_plural(noun)]
    if source[0] == "a" and source[1][0] in _VOWELS:
        source[0] = "an"
    target.append(tesh_noun(noun, number))
    target += [tesh_adjective(a, gender, number) for a in reversed(adjectives)]
    return source, target


def _noun_phrases(rng, kinds, coordinate):
    """One noun phrase, or two joined by "and" (odds ``coordinate``): (English, Tesh, person)."""
    source, target = _np(rng, kinds)
    if rng.random() < coordinate:
        other_source, other_target = _np(rng, kinds)
        return source + ["and"] + other_source, target + [AND] + other_target, "3pl"
    return source, target, "3sg" if source[-1] in NOUNS else "3pl"


def _sentence(rng):
    """One (English tokens, Tesh tokens) pair."""
    if rng.random() < 0.3:
        pronoun = rng.choice(list(SUBJECT_PRONOUNS))
        form, person = SUBJECT_PRONOUNS[pronoun]
        subject, subject_target = [pronoun], [form]
    else:
        subject, subject_target, person = _noun_phrases(rng, _ANIMATE, 0.1)
    past, negated, transitive = rng.random() < 0.35, rng.random() < 0.15, rng.random() < 0.6
    verb = rng.choice(_TRANSITIVE if transitive else _INTRANSITIVE)
    form = "past" if past else "3sg" if person == "3sg" else "base"
    do = {"base": "do", "3sg": "does", "past": "did"}[form]
    verb_source = [do, "not", verb] if negated else [english_verb(verb, form)]
    verb_target = [NOT] * negated + [PAST] * past + [tesh_verb(verb, person)]
    object_source, object_target = [], []
    if transitive:
        if rng.random() < 0.15:
            pronoun = rng.choice([p for p, (_, p_person) in OBJECT_PRONOUNS.items()
                                  if not (p_person == person and person in _REFLEXIVE)])
            object_source, object_target = [pronoun], [OBJECT_PRONOUNS[pronoun][0]]
        else:
            object_source, object_target, _ = _noun_phrases(rng, VERBS[verb][1], 0.1)
    pp_source, pp_target = [], []
    if rng.random() < 0.35:
        preposition = rng.choice(list(PREPOSITIONS))
        postposition, kinds = PREPOSITIONS[preposition]
        np_source, np_target = _np(rng, kinds)
        pp_source, pp_target = [preposition] + np_source, np_target + [postposition]
    end = "." if rng.random() < 0.9 else "!"
    return (subject + verb_source + object_source + pp_source + [end],
            subject_target + object_target + pp_target + verb_target + [end])


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
    return {name: generate(size, seeds.getrandbits(64))
            for name, size in (("train", train), ("validation", validation), ("test", test))}


def _vocabularies():
    source = {*PUNCTUATION, *"and not do does did the a an this these one".split(), *NUMBERS,
              *ADJECTIVES, *SUBJECT_PRONOUNS, *OBJECT_PRONOUNS, *PREPOSITIONS}
    source |= {word for noun in NOUNS for word in (noun, english_plural(noun))}
    source |= {english_verb(verb, form) for verb in VERBS for form in ("base", "3sg", "past")}
    target = {*PUNCTUATION, AND, NOT, PAST, *INDEFINITE.values(), *ONE.values(), *NUMBERS.values()}
    target |= {prefix + end for prefix in (DEFINITE, DEMONSTRATIVE) for end in ENDINGS.values()}
    target |= {tesh_noun(noun, number) for noun in NOUNS for number in ("sg", "pl")}
    target |= {tesh_adjective(adjective, *key) for adjective in ADJECTIVES for key in ENDINGS}
    target |= {tesh_verb(verb, person) for verb in VERBS for person in VERB_ENDINGS}
    target |= {form for table in (SUBJECT_PRONOUNS, OBJECT_PRONOUNS, PREPOSITIONS)
               for form, _ in table.values()}
    return sorted(source), sorted(target)


# Every token the grammar can produce, on each side, sorted.
SOURCE_VOCABULARY, TARGET_VOCABULARY = _vocabularies()
