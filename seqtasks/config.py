"""Recipe configuration: defaults in code, TOML files and ``--set`` overrides on top.

A schema is a mapping ``section -> key -> Key``. Every recipe starts from :data:`COMMON` and
adds or re-defaults keys of its own. A configuration file only overrides; anything it does not
say comes from the schema. Validation errors name the key and suggest the nearest valid one.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import tomllib
from pathlib import Path
from typing import Any

from seqtasks.errors import ConfigError, named

SECTIONS = ("data", "model", "train", "export")


@dataclasses.dataclass(frozen=True)
class Key:
    """One configuration key: its default, accepted types and a one-line help text.

    ``default=None`` means "not set"; TOML has no null, so such keys are simply omitted.
    """

    default: Any
    types: tuple = ()
    help: str = ""
    choices: tuple = ()
    #: The accepted range, checked where the key is set: ``"positive"`` (> 0),
    #: ``"non-negative"`` (>= 0) or ``"fraction"`` (in [0, 1)).
    bounds: str | None = None

    def accepted(self):
        if self.types:
            return self.types
        return (type(self.default),)

    def check_bounds(self, where, value):
        if self.bounds is None or value is None:
            return
        test, expected = BOUNDS[self.bounds]
        if not test(value):
            kind = "integer" if isinstance(value, int) else "number"
            raise ConfigError(f"{where}: expected {expected.format(kind=kind)}, found {value!r}")


BOUNDS = {
    "positive": (lambda v: v > 0, "a positive {kind}"),
    "non-negative": (lambda v: v >= 0, "a non-negative {kind}"),
    "fraction": (lambda v: 0.0 <= v < 1.0, "a number in [0, 1)"),
    "probability-or-auto": (lambda v: v == "auto" or (not isinstance(v, str) and 0 <= v <= 1),
                            '"auto" or a number in [0, 1]'),
}


def positive(default, help_text, types=(int,)):
    return Key(default, types, help_text, bounds="positive")


def fraction(default, help_text):
    return Key(default, (float,), help_text, bounds="fraction")


def tokenizer_key(default, what):
    """A ``data.*tokenizer`` key: how ``what`` is split into tokens."""
    return Key(default, (str,), f"{what}: words, characters or subwords (SentencePiece pieces "
               "learned from the training data, applied in the graph)",
               ("word", "char", "subword"))


def subword_keys(vocab_size=8000):
    """The keys of the subword vocabularies a recipe's subword tokenizers learn."""
    return {"subword_vocab_size": positive(vocab_size, "pieces of a subword vocabulary (a "
                                           "soft limit: small data may give fewer)"),
            "subword_type": Key("unigram", (str,), "the SentencePiece model of a subword "
                                "vocabulary", ("unigram", "bpe"))}


def decode_section(**defaults):
    """The ``[decode]`` section of generating recipes (beam or greedy search), declared once;
    ``defaults`` changes a key's default for one recipe."""
    section = {
        "strategy": Key("beam", (str,), "decoding strategy", ("beam", "greedy")),
        "beam_width": positive(4, "hypotheses kept per input (beam search)"),
        "length_penalty": Key(0.6, (float,), "GNMT length penalty alpha (beam search); 0 ranks "
                              "by total log-probability", bounds="non-negative"),
        "max_length": positive(200, "hard cap on the tokens of an output"),
    }
    for name, value in defaults.items():
        section[name] = dataclasses.replace(section[name], default=value)
    return section


def decode_defaults(**defaults):
    """``{key: default}`` of :func:`decode_section`: what a decoding layer uses for the keys
    it is not given."""
    return {name: key.default for name, key in decode_section(**defaults).items()}


def path_or_tfds(help_text):
    return Key(None, (str, list), help_text)


COMMON = {
    "data": {
        "train": path_or_tfds("training data: a file path, a glob or list of shard files, or "
                              "tfds:<name>[:<split>]; streamed, never held in memory"),
        "validation": path_or_tfds("validation data; carved from train (seeded) when omitted"),
        "test": path_or_tfds("test data: a file path, or tfds:<name>[:<split>]"),
        "validation_fraction": fraction(0.1, "share of train carved out for validation"),
        "carve_limit": positive(20000, "most examples carved from train for a missing validation "
                                "or test split (held-out splits are held in memory)"),
        "cache": Key("auto", (str,), "where the encoded training examples are kept after the "
                     "first epoch: memory, disk (under the run directory), none (every epoch "
                     "reads the files again); auto: memory up to 200,000 examples, else disk",
                     ("auto", "memory", "disk", "none")),
    },
    "model": {
        "cell": Key("elman", (str,), "recurrent cell", ("elman", "lstm", "gru")),
        "units": positive(128, "hidden units of each recurrent layer"),
        "embedding_dim": positive(64, "size of the token embeddings"),
        "layers": positive(1, "number of stacked recurrent layers"),
        "bidirectional": Key(False, (bool,), "wrap each recurrent layer in Bidirectional"),
        "dropout": fraction(0.0, "dropout on embeddings and recurrent inputs"),
        "hidden_units": positive(128, "size of the ReLU layer of the prediction head"),
    },
    "train": {
        "epochs": positive(10, "number of passes over the training data"),
        "batch_size": positive(32, "examples per batch"),
        "learning_rate": positive(1e-3, "Adam learning rate", (float,)),
        "clipnorm": Key(1.0, (float,), "gradient clipping by global norm; 0 turns it off"),
        "seed": Key(42, (int,), "seed for initialisation, shuffling and splits"),
        "bucketing": Key(True, (bool,), "batch sequences of similar length together"),
        "early_stopping_patience": Key(3, (int,), "epochs without improvement; 0 turns it off",
                                       bounds="non-negative"),
        "reduce_lr_patience": Key(0, (int,), "epochs without improvement before the learning "
                                  "rate is cut to a third; 0 turns it off", bounds="non-negative"),
        "monitor": Key("val_loss", (str,), "validation metric for early stopping and the best "
                       "weights, e.g. val_accuracy"),
        "strategy": Key(
            "default", (str,), "distribution strategy", ("default", "mirrored", "multi_worker")
        ),
        "precision": Key("float32", (str,), "Keras dtype policy of training; mixed_bfloat16 "
                         "computes in bfloat16 with float32 weights (the export stays float32)",
                         ("float32", "mixed_bfloat16")),
    },
    "export": {
        "dir": Key("saved_models", (str,), "root of the versioned SavedModel exports"),
    },
}


@dataclasses.dataclass(frozen=True)
class Unsupported:
    """In a recipe's ``schema_extra``: a common key the recipe cannot honour. It is removed
    from the recipe's schema; setting it to anything but the value the recipe always behaves
    as (``value``, by default the common default) is an error that gives ``reason``."""

    reason: str
    value: Any = None


class Schema(dict):
    """``{section: {name: Key}}``, plus the keys removed by :class:`Unsupported`
    (``unsupported``: ``{(section, name): Unsupported}``)."""

    unsupported: dict = {}


def merge_schema(base, extra):
    """Return ``base`` with the keys of ``extra`` added or replaced, section by section. A plain
    value in ``extra`` (not a :class:`Key`) only changes the default of the base key it names;
    an :class:`Unsupported` removes it."""
    merged = Schema({section: dict(keys) for section, keys in base.items()})
    merged.unsupported = dict(getattr(base, "unsupported", {}))
    for section, keys in extra.items():
        target = merged.setdefault(section, {})
        for name, key in keys.items():
            if isinstance(key, Unsupported):
                removed = target.pop(name)
                merged.unsupported[section, name] = key if key.value is not None else \
                    dataclasses.replace(key, value=removed.default)
            else:
                target[name] = key if isinstance(key, Key) else \
                    dataclasses.replace(target[name], default=key)
    return merged


def defaults(schema):
    return {section: {name: key.default for name, key in keys.items()}
            for section, keys in schema.items()}


def read_toml(path):
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None


def overrides_list(overrides):
    """``overrides`` as a list of ``section.key=value`` strings or ``(section.key, value)``
    pairs: a list of strings (``--set``), one string, or a dict, flat
    (``{"train.epochs": 3}``) or nested (``{"train": {"epochs": 3}}``)."""
    if overrides is None:
        return []
    if isinstance(overrides, str):
        return [overrides]
    if isinstance(overrides, dict):
        items = []
        for name, value in overrides.items():
            if isinstance(value, dict) and "." not in str(name):
                items += [(f"{name}.{key}", v) for key, v in value.items()]
            else:
                items.append((str(name), value))
        return items
    return list(overrides)


def parse_override(item):
    """``(section, key, value)`` of a ``section.key=value`` string (the value read as TOML,
    else as a string) or of a ``(section.key, value)`` pair."""
    where = named("--set", "overrides")
    if isinstance(item, tuple) and len(item) == 2:
        name, value = item
        if "." not in name:
            raise ConfigError(f"{where}: {name!r}: expected a section.key name, e.g. "
                              "train.epochs")
        section, _, key = name.strip().partition(".")
        return section, key, value
    if not isinstance(item, str):
        raise ConfigError(f"{where}: expected section.key=value strings or a dict, found "
                          f"{type(item).__name__} {item!r}")
    text = item
    name, sep, raw = text.partition("=")
    if not sep or "." not in name:
        raise ConfigError(f"{where} {text!r}: expected section.key=value, e.g. train.epochs=5")
    section, _, key = name.strip().partition(".")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return section, key, value


#: Keys that were renamed: a configuration using the old name is told the new one.
RENAMED = {"level": "tokenizer", "source_level": "source_tokenizer",
           "target_level": "target_tokenizer"}


def _suggest(word, candidates):
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _type_names(types):
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
             list: "a list"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _check_value(where, key, value):
    types = key.accepted()
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok and float in types and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(
            f"{where}: expected {_type_names(types)}, found {type(value).__name__} {value!r}"
        )
    if key.choices and value not in key.choices:
        raise ConfigError(
            f"{where}: expected one of {', '.join(map(repr, key.choices))}, found {value!r}"
            + _suggest(str(value), key.choices)
        )
    return value


def apply(config, schema, section, name, value, source):
    """Validate one ``section.name = value`` against ``schema`` and store it in ``config``."""
    if section not in schema:
        raise ConfigError(f"{source}: unknown section [{section}]" + _suggest(section, schema))
    keys = schema[section]
    removed = getattr(schema, "unsupported", {}).get((section, name))
    if removed is not None:
        if value == removed.value and type(value) is type(removed.value):
            return  # what the recipe does anyway (a configuration written before the removal)
        raise ConfigError(f"{source}: {section}.{name}: this recipe has no such key "
                          f"({removed.reason})")
    if name not in keys:
        elsewhere = [f"{s}.{name}" for s in schema if name in schema[s]]
        hint = f" (did you mean '{elsewhere[0]}'?)" if elsewhere else _suggest(name, keys)
        if RENAMED.get(name) in keys:
            hint = f" (it was renamed '{section}.{RENAMED[name]}')"
        raise ConfigError(f"{source}: unknown key '{section}.{name}'{hint}")
    config[section][name] = _check_value(f"{source}: {section}.{name}", keys[name], value)


@dataclasses.dataclass(frozen=True)
class Variant:
    """Other defaults for some keys when one key has a given value, e.g. word-level language
    models: ``Variant(("data", "level", "word"), {"train": {"bptt": 35}})``. What a file or
    ``--set`` gives explicitly always wins over both."""

    when: tuple  # (section, key, value)
    defaults: dict  # section -> key -> default


def resolve(schema, recipe_name, files=(), overrides=(), variants=()):
    """Build the full configuration: defaults (with the :class:`Variant` defaults whose
    condition holds), then each TOML file, then ``--set`` overrides."""
    given = {section: {} for section in schema}
    for path in files:
        document = read_toml(path)
        declared = document.pop("recipe", recipe_name)
        if declared != recipe_name:
            raise ConfigError(f"{path}: recipe = {declared!r}, but running {recipe_name!r}")
        for section, table in document.items():
            if not isinstance(table, dict):
                raise ConfigError(
                    f"{path}: unknown top-level key '{section}' (expected 'recipe' or a table "
                    f"[{'], ['.join(schema)}])" + _suggest(section, schema)
                )
            for name, value in table.items():
                apply(given, schema, section, name, value, str(path))
    for item in overrides_list(overrides):
        section, name, value = parse_override(item)
        apply(given, schema, section, name, value, named("--set", "overrides"))
    config = defaults(schema)
    for variant in variants:
        section, name, value = variant.when
        if given[section].get(name, config[section][name]) == value:
            for target, keys in variant.defaults.items():
                config[target].update(keys)
    for section, values in given.items():
        config[section].update(values)
    check_ranges(config, schema)
    return config


def check_ranges(config, schema):
    """Each key's own bounds (:attr:`Key.bounds`)."""
    for section, values in config.items():
        for name, value in values.items():
            schema[section][name].check_bounds(f"{section}.{name}", value)


def to_toml(config, recipe_name, schema=None):
    """The resolved configuration as TOML text; unset keys appear as comments."""
    import tomli_w

    lines = [f'recipe = "{recipe_name}"', ""]
    for section, values in config.items():
        present = {k: v for k, v in values.items() if v is not None}
        lines.append(f"[{section}]")
        body = tomli_w.dumps(present).strip()
        if body:
            lines.append(body)
        for name, value in values.items():
            if value is None:
                help_text = schema[section][name].help if schema else ""
                lines.append(f"# {name} = ...  ({help_text})" if help_text else f"# {name} = ...")
        lines.append("")
    return "\n".join(lines)


def load_config(recipe_or_path, overrides=()):
    """Resolve a recipe name or a TOML file path into ``(recipe, config)``.

    Example:
    ```python
    recipe, config = seqtasks.load_config("smart_reply", ["train.epochs=2"])
    ```
    """
    from seqtasks.recipes import get_recipe

    files = []
    target = str(recipe_or_path)
    if target.endswith(".toml") or Path(target).is_file():
        document = read_toml(target)
        name = document.get("recipe")
        if not isinstance(name, str):
            raise ConfigError(f"{target}: missing 'recipe = \"<name>\"' at the top")
        files.append(target)
    else:
        name = target
    recipe = get_recipe(name)
    config = resolve(recipe.schema(), recipe.name, files, overrides, recipe.variants)
    return recipe, copy.deepcopy(config)
