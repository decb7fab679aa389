"""A generated part-of-speech data set: English-like sentences from a small grammar, each token
tagged with its Universal POS tag (UPOS) and an IOB2 named-entity tag.

Many word forms take more than one tag, and only the context tells which: "book" is a NOUN in
"the book is old" and a VERB in "they book a room", "can" an AUX or a NOUN, "that" a DET, a PRON
or an SCONJ, "light" an ADJ, a NOUN or a VERB, "to" a PART or an ADP, "New" an ADJ or part of a
name. AMBIGUOUS lists every such form with the tags the grammar gives it.

Sentences (4 to 25 tokens) are statements, questions and commands with noun, verb and
prepositional phrases, relative and subordinate clauses and coordination. The first word is
capitalised, so a capital marks a name only inside a sentence. Names of people, places and
organisations are tagged B-/I- PER, LOC and ORG, every other token O. Generation is
deterministic for a given seed.
"""

import random

UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "NOUN", "NUM", "PART", "PRON", "PROPN",
        "PUNCT", "SCONJ", "VERB")
NER = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")
MIN_TOKENS, MAX_TOKENS = 4, 25

# Common nouns by meaning class; "singular:plural" where the plural is irregular.
NOUNS = {
    "person": "man:men woman:women child:children teacher friend doctor pilot student farmer"
              " driver cook",
    "animal": "dog cat duck bird fly horse",
    "thing": "book can saw watch light box key ticket table phone car ball letter cake bag back"
             " paint train fire candle",
    "event": "play run game party show trip meeting film call visit walk",
    "place": "park well room city station garden market house school river",
}
# Transitive verb -> the classes of its object: NOUNS classes, names (PER, LOC, ORG) or "pron".
TRANSITIVE = {
    "book": "thing event place", "watch": "person animal event PER pron",
    "see": "person animal thing place PER LOC pron",
    "like": "person animal thing event place PER LOC ORG pron", "play": "event", "light": "thing",
    "back": "person PER ORG pron", "park": "thing", "train": "person animal pron",
    "paint": "thing place", "cook": "thing", "call": "person PER ORG pron",
    "visit": "person place PER LOC ORG pron", "help": "person animal PER ORG pron",
    "open": "thing place", "close": "thing place", "walk": "animal", "read": "thing",
    "find": "person animal thing pron", "need": "person thing pron", "want": "thing event",
    "buy": "thing animal", "sell": "thing animal", "meet": "person PER pron",
    "miss": "person event PER LOC pron", "enjoy": "event", "hear": "person animal PER pron",
    "follow": "person animal PER pron", "leave": "place LOC ORG",
    "know": "person place PER LOC pron",
}
INTRANSITIVE = "run fly duck swim sleep wait laugh arrive go come walk play work park cook drive"
MOTION = "run fly walk go come swim drive"  # may go on with "to" + a place, "back" or "away"
CLAUSAL = "say think know hope"  # go on with a clause, "that" or not
INFINITIVAL = "want need like try hope love"  # go on with "to" + verb
PAST = {"see": "saw", "run": "ran", "fly": "flew", "light": "lit", "find": "found", "read": "read",
        "leave": "left", "sleep": "slept", "swim": "swam", "go": "went", "come": "came",
        "say": "said", "think": "thought", "know": "knew", "buy": "bought", "sell": "sold",
        "meet": "met", "hear": "heard", "drive": "drove"}

ADJECTIVES = ("old new big small red blue light long short happy quiet open dark heavy kind good"
              " cold warm busy empty").split()
DEGREE, DIRECTION = ["very", "really", "quite"], ["back", "away"]
MANNER = ["well", "quickly", "slowly", "quietly", "again"]
FREQUENCY = ["often", "always", "never", "also", "sometimes"]
LOCATIVE = ["in", "at", "near", "behind", "on", "under"]
OTHER_ADPOSITIONS = ["to", "with", "like", "before", "after", "of", "for", "from"]
DET_SINGULAR = ["the", "the", "the", "a", "a", "this", "that", "every", "each"]
DET_PLURAL = ["the", "the", "these", "those", "some"]
POSSESSIVES = ["my", "your", "his", "her", "our", "their"]  # PRON in UD
NUMBERS = ["two", "three", "four", "five", "ten", "twelve", "3", "12", "40"]
SUBJECT_PRONOUNS = {"I": "1sg", "you": "pl", "he": "3sg", "she": "3sg", "it": "3sg", "we": "pl",
                    "they": "pl"}
OBJECT_PRONOUNS = ["me", "you", "him", "her", "it", "us", "them", "this", "that"]
DEMONSTRATIVES, RELATIVES = ["this", "that"], ["that", "who", "which"]
MODALS = ["can", "could", "will", "would", "should", "must", "may", "might"]
DO = {"1sg": "do", "3sg": "does", "pl": "do", "past": "did"}
BE = {"1sg": "am", "3sg": "is", "pl": "are", "past_1sg": "was", "past_3sg": "was",
      "past_pl": "were"}
SUBORDINATORS = ["because", "if", "when", "while", "before", "after"]
COORDINATORS = ["and", "but", "or"]

FIRST_NAMES = "Anna Tom Maria David Sara Omar Li Ben Emma Lucas Priya Ivan".split()
LAST_NAMES = "Smith Garcia Chen Brown Novak Khan Silva Jones".split()
PLACES = ["Paris", "Berlin", "Tokyo", "Lagos", "Lima", "Cairo", "Oxford", "New York",
          "New Delhi", "San Francisco", "Hong Kong", "Buenos Aires"]
ORGANISATIONS = ["Acme Corp", "Globex", "Initech", "Oxford University", "the United Nations",
                 "the Red Cross", "Blue Sky Air", "City Bank"]

AGENTS = "pron pron pron person person animal PER PER ORG".split()
SUBJECTS = "pron pron person animal thing thing place event PER LOC ORG dem".split()
_VOWELS = "aeiou"
# (cumulative probability, heads, classes of their object) of the adjuncts _pp draws.
_ADJUNCTS = [(0.45, LOCATIVE, ["place", "place", "thing", "LOC"]),
             (0.65, ["with"], ["person", "animal", "PER", "pron"]),
             (0.75, ["like"], ["person", "animal", "PER"]), (0.87, ["before", "after"], ["event"]),
             (0.95, ["for"], ["person", "PER", "ORG", "pron"]), (1.0, ["from"], ["LOC", "ORG"])]


def _add_s(word):
    """The plural of a noun or the third person singular of a verb: boxes, flies, goes, books."""
    if word == "go" or word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2] not in _VOWELS:
        return word[:-1] + "ies"
    return word + "s"


def _inflect(verb, form):
    """``verb`` in ``form``: "base", "3sg" or "past"."""
    if form != "past":
        return verb if form == "base" else _add_s(verb)
    if verb in PAST:
        return PAST[verb]
    if verb.endswith("e"):
        return verb + "d"
    return verb[:-1] + "ied" if verb.endswith("y") and verb[-2] not in _VOWELS else verb + "ed"


_NOUNS = {cls: [entry.split(":")[0] for entry in entries.split()] for cls, entries in NOUNS.items()}
_PLURALS = {noun: plural or _add_s(noun) for entries in NOUNS.values()
            for noun, _, plural in (entry.partition(":") for entry in entries.split())}
_TRANSITIVE = sorted(TRANSITIVE)
_OBJECTS = {verb: classes.split() for verb, classes in TRANSITIVE.items()}
_TAKING = {cls: [verb for verb in _TRANSITIVE if cls in _OBJECTS[verb]] for cls in NOUNS}
_INTRANSITIVE, _MOTION = INTRANSITIVE.split(), set(MOTION.split())
_CLAUSAL, _INFINITIVAL = CLAUSAL.split(), INFINITIVAL.split()
_SUBJECT_PRONOUNS = sorted(SUBJECT_PRONOUNS)


def _pick(rng, options):
    """``rng.choice(options)``, drawing nothing when there is only one."""
    return options[0] if len(options) == 1 else rng.choice(options)


def _word(word, upos):
    return (word, upos, "O")


def _verb(verb, form):
    return _word(_inflect(verb, form), "VERB")


def _maybe(rng, probability, words, upos):
    """With ``probability``, a token of one of ``words``; else none."""
    return [_word(_pick(rng, words), upos)] if rng.random() < probability else []


def _name(text, label):
    """"the Red Cross" -> [the DET O, Red PROPN B-ORG, Cross PROPN I-ORG]."""
    words = text.split()
    tokens = [_word(words.pop(0), "DET")] if words[0] == "the" else []
    return tokens + [(word, "PROPN", ("I-" if i else "B-") + label) for i, word in enumerate(words)]


def _np(rng, cls, role, depth):
    """A noun phrase of meaning class ``cls``: (tokens, agreement: "1sg", "3sg" or "pl")."""
    if cls in ("PER", "LOC", "ORG"):
        text = rng.choice({"PER": FIRST_NAMES, "LOC": PLACES, "ORG": ORGANISATIONS}[cls])
        if cls == "PER" and rng.random() < 0.4:
            text += " " + rng.choice(LAST_NAMES)
        return _name(text, cls), "3sg"
    if cls == "pron" and role == "subject":
        pronoun = rng.choice(_SUBJECT_PRONOUNS)
        return [_word(pronoun, "PRON")], SUBJECT_PRONOUNS[pronoun]
    if cls in ("dem", "pron"):  # a demonstrative or an object pronoun
        words = DEMONSTRATIVES if cls == "dem" else OBJECT_PRONOUNS
        return [_word(rng.choice(words), "PRON")], "3sg"
    plural = rng.random() < 0.3
    agreement = "pl" if plural else "3sg"
    r = rng.random()
    if r < 0.15:
        tokens = [_word(rng.choice(POSSESSIVES), "PRON")]
    elif plural and r < 0.35:
        tokens = [_word(rng.choice(NUMBERS), "NUM")]
    elif plural and r < 0.45:
        tokens = []  # a bare plural
    else:
        tokens = [_word(rng.choice(DET_PLURAL if plural else DET_SINGULAR), "DET")]
    r = rng.random()
    adjectives = 0 if r < 0.6 else 1 if r < 0.9 else 2
    if adjectives:
        tokens += _maybe(rng, 0.2, DEGREE, "ADV")
    tokens += [_word(adjective, "ADJ") for adjective in rng.sample(ADJECTIVES, adjectives)]
    noun = rng.choice(_NOUNS[cls])
    tokens.append(_word(_PLURALS[noun] if plural else noun, "NOUN"))
    if tokens[0][0] == "a" and tokens[1][0][0] in _VOWELS:
        tokens[0] = _word("an", "DET")
    r = rng.random()
    if depth < 2 and r < 0.1:
        tokens += _relative(rng, cls, agreement, depth + 1)
    elif r < 0.14 and cls in ("thing", "place"):
        tokens += [_word("of", "ADP")] + _np(rng, rng.choice(["place", "thing"]), "object", 2)[0]
    return tokens, agreement


def _relative(rng, cls, agreement, depth):
    """"that runs", "who we know", "which she reads": a clause about the noun before it."""
    tokens = [_word(rng.choice(["that", "who" if cls == "person" else "which"]), "PRON")]
    if rng.random() < 0.5:
        return tokens + _predicate(rng, agreement, depth)
    subject, subject_agreement = _np(rng, rng.choice(AGENTS), "subject", 2)
    return tokens + subject + _predicate(rng, subject_agreement, depth, gap=cls)


def _pp(rng, depth):
    """An adjunct: "in the park", "with Anna", "like a duck", "after the game", "for them"."""
    r = rng.random()
    heads, classes = next((heads, classes) for limit, heads, classes in _ADJUNCTS if r < limit)
    return [_word(_pick(rng, heads), "ADP")] + _np(rng, _pick(rng, classes), "object", depth)[0]


def _vp(rng, form, depth, gap=None, infinitive=True):
    """A verb in ``form`` ("base", "3sg", "past") and what follows it; with ``gap``, a transitive
    verb whose object (of class ``gap``) is left out, as in a relative clause."""
    if gap is not None:
        return [_verb(rng.choice(_TAKING[gap]), form)]
    r = rng.random()
    if r < 0.5:
        verb = rng.choice(_TRANSITIVE)
        tokens = [_verb(verb, form)] + _np(rng, rng.choice(_OBJECTS[verb]), "object", depth + 1)[0]
    elif r < 0.75 or depth >= 2 or (r >= 0.85 and not infinitive):
        verb = rng.choice(_INTRANSITIVE)
        tokens = [_verb(verb, form)]
        if verb in _MOTION and rng.random() < 0.5:
            if rng.random() < 0.6:
                tokens.append(_word("to", "ADP"))
                tokens += _np(rng, rng.choice(["place", "LOC", "LOC", "ORG"]), "object", depth)[0]
            else:
                tokens.append(_word(rng.choice(DIRECTION), "ADV"))
    elif r < 0.85:
        tokens = [_verb(rng.choice(_CLAUSAL), form)]
        return tokens + _maybe(rng, 0.7, ["that"], "SCONJ") + _clause(rng, depth + 1)
    else:
        tokens = [_verb(rng.choice(_INFINITIVAL), form), _word("to", "PART")]
        return tokens + _vp(rng, "base", depth + 1, infinitive=False)
    if rng.random() < 0.2:
        tokens += _pp(rng, depth + 1)
    return tokens + _maybe(rng, 0.15, MANNER, "ADV")


def _adjective_or_place(rng, depth):
    if rng.random() < 0.65:
        return _maybe(rng, 0.25, DEGREE, "ADV") + [_word(rng.choice(ADJECTIVES), "ADJ")]
    head, cls = rng.choice(LOCATIVE), rng.choice(["place", "place", "LOC", "ORG"])
    return [_word(head, "ADP")] + _np(rng, cls, "object", depth + 1)[0]


def _predicate(rng, agreement, depth, gap=None):
    """What follows a subject with ``agreement``: a verb phrase with its tense and auxiliaries,
    or a form of "be" and an adjective or a place."""
    past = rng.random() < 0.35
    r = rng.random()
    if gap is None and r < 0.1:
        be = [_word(BE[f"past_{agreement}" if past else agreement], "AUX")]
        return be + _maybe(rng, 0.15, ["not"], "PART") + _adjective_or_place(rng, depth)
    if r < 0.58:
        form = "past" if past else "3sg" if agreement == "3sg" else "base"
        return _maybe(rng, 0.1, FREQUENCY, "ADV") + _vp(rng, form, depth, gap)
    if r < 0.88:
        tokens = [_word(rng.choice(MODALS), "AUX")] + _maybe(rng, 0.2, ["not"], "PART")
    else:
        tokens = [_word(DO["past" if past else agreement], "AUX"), _word("not", "PART")]
    return tokens + _vp(rng, "base", depth, gap)


def _clause(rng, depth):
    subject, agreement = _np(rng, rng.choice(AGENTS), "subject", depth)
    if rng.random() < 0.06:
        other, _ = _np(rng, rng.choice(AGENTS), "subject", 2)
        subject, agreement = subject + [_word("and", "CCONJ")] + other, "pl"
    elif rng.random() < 0.2:
        subject, agreement = _np(rng, rng.choice(SUBJECTS), "subject", depth)
        be = BE[agreement] if rng.random() < 0.6 else BE[f"past_{agreement}"]
        return subject + [_word(be, "AUX")] + _adjective_or_place(rng, depth)
    return subject + _predicate(rng, agreement, depth)


def _question(rng):
    """"Can they book a room ?", "Did Anna see the saw ?", "Is the well deep ?"."""
    r = rng.random()
    if r < 0.7:
        subject, agreement = _np(rng, rng.choice(AGENTS), "subject", 1)
        aux = rng.choice(MODALS) if r < 0.35 else DO["past" if rng.random() < 0.4 else agreement]
        return [_word(aux, "AUX")] + subject + _vp(rng, "base", 1)
    subject, agreement = _np(rng, rng.choice(SUBJECTS), "subject", 1)
    return [_word(BE[agreement], "AUX")] + subject + _adjective_or_place(rng, 1)


def _sentence(rng):
    r = rng.random()
    if r < 0.12:
        tokens, end = _question(rng), "?"
    elif r < 0.2:  # a command: "Book a table .", "Do not watch the play with them !"
        do_not = [_word("do", "AUX"), _word("not", "PART")] if rng.random() < 0.2 else []
        tokens, end = do_not + _vp(rng, "base", 1), rng.choice([".", "!"])
    else:
        tokens, end = _clause(rng, 0), "." if rng.random() < 0.95 else "!"
        r = rng.random()
        if r < 0.2:
            tokens += _maybe(rng, 0.4, [","], "PUNCT")
            tokens += [_word(rng.choice(COORDINATORS), "CCONJ")] + _clause(rng, 1)
        elif r < 0.4:
            clause = [_word(rng.choice(SUBORDINATORS), "SCONJ")] + _clause(rng, 1)
            fronted = rng.random() < 0.3
            tokens = clause + [_word(",", "PUNCT")] + tokens if fronted else tokens + clause
    first, upos, ner = tokens[0]
    return [(first[:1].upper() + first[1:], upos, ner)] + tokens[1:] + [_word(end, "PUNCT")]


def generate(count, seed):
    """``count`` ``(tokens, upos, ner)`` triples of parallel lists, 4 to 25 tokens each."""
    rng = random.Random(seed)
    examples = []
    while len(examples) < count:
        tokens = _sentence(rng)
        if MIN_TOKENS <= len(tokens) <= MAX_TOKENS:
            examples.append(tuple(list(column) for column in zip(*tokens)))
    return examples


def splits(seed=42, train=3000, validation=300, test=300):
    """Train, validation and test ``(tokens, upos)`` pairs from three seeds drawn from ``seed``."""
    seeds = random.Random(seed)
    return {name: [(words, upos) for words, upos, _ in generate(size, seeds.getrandbits(64))]
            for name, size in (("train", train), ("validation", validation), ("test", test))}


def _lexicon():
    """Every word form the grammar can produce (lowercased) -> the UPOS tags it can have."""
    verbs = _TRANSITIVE + _INTRANSITIVE + _CLAUSAL + _INFINITIVAL
    names = " ".join(FIRST_NAMES + LAST_NAMES + PLACES + ORGANISATIONS).split()
    words = {
        "NOUN": [word for pair in _PLURALS.items() for word in pair],
        "VERB": [_inflect(verb, form) for verb in verbs for form in ("base", "3sg", "past")],
        "ADJ": ADJECTIVES, "ADV": DEGREE + MANNER + FREQUENCY + DIRECTION,
        "ADP": LOCATIVE + OTHER_ADPOSITIONS, "DET": DET_SINGULAR + DET_PLURAL + ["an"],
        "PRON": POSSESSIVES + list(SUBJECT_PRONOUNS) + OBJECT_PRONOUNS + DEMONSTRATIVES + RELATIVES,
        "NUM": NUMBERS, "AUX": MODALS + list(DO.values()) + list(BE.values()),
        "SCONJ": SUBORDINATORS + ["that"], "CCONJ": COORDINATORS, "PART": ["to", "not"],
        "PUNCT": list(".!?,"), "PROPN": [word for word in names if word != "the"],
    }
    lexicon = {}
    for upos, forms in words.items():
        for word in forms:
            lexicon.setdefault(word.lower(), set()).add(upos)
    return lexicon


# Word form (lowercase) -> the UPOS tags the grammar gives it, for every form with more than one.
AMBIGUOUS = {word: tags for word, tags in sorted(_lexicon().items()) if len(tags) > 1}
