"""One spec per recipe: what the shared tests need to know about it.

A :class:`Spec` gives a recipe's tiny sizes, its ``serving_default`` signature, how to write
its test split as a file of its format, the target its defaults reach on built-in data, and
its bad inputs: files that must stop ``seqtasks run`` with one clear line, and keys that must
be refused. tests/test_recipe_contract.py and tests/test_recipe_specs.py run every recipe
through them; a recipe's own test file keeps only what is unique to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from helpers import TINY_MODEL, write_csv


@dataclasses.dataclass(frozen=True)
class BadFile:
    """Files that must stop a tiny ``seqtasks run`` before it writes anything: ``files``
    (name -> text, or bytes) are written into a folder, ``overrides`` name them with
    ``{dir}``, and the one-line error holds every one of ``fragments``."""

    id: str
    files: dict
    overrides: tuple
    fragments: tuple


@dataclasses.dataclass(frozen=True)
class Spec:
    name: str
    #: ``--set`` items that make the model tiny.
    tiny: tuple
    #: ``serving_default``: inputs ``{name: (dtype, shape)}`` and output names.
    inputs: dict
    outputs: set
    #: ``(task, folder) -> path``: the task's test split as a file ``seqtasks evaluate`` reads.
    write_test_split: Callable
    #: What the defaults reach on built-in data: ``(what, test metrics -> bool)``.
    target: tuple
    bad_files: tuple = ()
    #: ``(item, fragment...)``: ``--set item`` refused with a line holding the fragments.
    bad_keys: tuple = ()
    #: Recipes whose outputs are text: ``(preprocessor, examples) -> (ids, lengths, texts)``,
    #: the target ids of ``examples`` that ``preprocessor.detokenize`` must turn into
    #: ``texts`` (the targets as the tokenizer normalises them).
    round_trip: Callable | None = None


def _write(folder, name, text):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _smart_reply(task, folder):
    return write_csv(folder / "test.csv", [(e.input, e.target) for e in task.splits["test"]])


def _tagging(task, folder):
    lines = []
    for e in task.splits["test"]:
        lines += [f"{i}\t{token}\t_\t{tag}\t_\t_\t0\tdep\t_\t_"
                  for i, (token, tag) in enumerate(zip(e.input, e.target), 1)]
        lines.append("")
    return _write(folder, "test.conllu", "\n".join(lines) + "\n")


def _translation(task, folder):
    return _write(folder, "test.tsv", "".join(f"{e.input}\t{e.target}\n"
                                              for e in task.splits["test"]))


def _captioning(task, folder):
    (folder / "Images").mkdir()
    rows = ["image,caption"]
    for i, e in enumerate(task.splits["test"]):
        (folder / "Images" / f"{i}.png").write_bytes(e.input)
        rows += [f"{i}.png,{caption}" for caption in e.target]
    return _write(folder, "captions.txt", "\n".join(rows) + "\n")


def _language_model(task, folder):
    return _write(folder, "test.txt", "".join(e.input for e in task.splits["test"]))


def _forecasting(task, folder):
    """The whole built-in series: evaluate scores its test range, as the run did."""
    from seqtasks.recipes.forecasting import builtin as builtin

    dates, values = builtin.generate(seed=task.config["train"]["seed"])
    rows = [f"{d.isoformat()},{float(v)!r}" for d, v in zip(dates, values)]  # exact float32
    return _write(folder, "series.csv", "date,value\n" + "\n".join(rows) + "\n")


def _series(days, drop=()):
    """A daily built-in-like series of ``days`` as CSV text, leaving out the ``drop`` days."""
    from seqtasks.recipes.forecasting import builtin as builtin

    dates, values = builtin.generate(days, 1)
    keep = [i for i in range(days) if i not in set(drop)]
    return builtin.csv_text([dates[i] for i in keep], values[keep])


def _below_unigram_entropy(test):
    """Bits per character far below the built-in text's unigram entropy (numpy): the model
    uses the context, not just letter frequencies."""
    import collections

    import numpy as np

    import seqtasks

    recipe = seqtasks.get_recipe("language_model")
    train = "".join(e.input for e in recipe(recipe.default_config()).reader.splits()["train"])
    counts = np.array(list(collections.Counter(train).values()), float)
    unigram = float(-(counts / counts.sum() * np.log2(counts / counts.sum())).sum())
    return test["bits_per_char"] < 0.5 * unigram


def _translation_ids(p, examples):
    """The references lowercased, with no space before closing punctuation (the built-in
    references have one: "ont .")."""
    import re

    import tensorflow as tf

    references = [e.target for e in examples]
    return p.teacher_forcing(tf.constant(references))[1], None, [
        re.sub(r" ([.,!?;:])", r"\1", r.lower()) for r in references]


def _caption_ids(p, examples):
    import tensorflow as tf

    first = [p.raw_targets([e]).to_list()[0][0][1:] for e in examples]  # without <s>
    ids = tf.ragged.constant(first).to_tensor()
    return ids, None, [e.target[0].lower() for e in examples]


def _text_ids(p, examples):
    import tensorflow as tf

    lines = [e.input for e in examples]
    return (*p.prompt_ids(tf.constant(lines)), lines)


_CONLLU_ROW = "1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n"
_NO_MODEL_EMBEDDING = tuple(o for o in TINY_MODEL if not o.startswith("model.embedding_dim"))

SPECS = {spec.name: spec for spec in [
    Spec("smart_reply", tuple(TINY_MODEL),
         {"text": ("string", [None])}, {"replies", "scores", "labels", "abstained"},
         _smart_reply, ("in-scope accuracy of at least 90%", lambda t: t["accuracy"] >= 0.90),
         bad_files=(
             BadFile("missing-file", {}, ("data.train={dir}/nope.csv",),
                     ("nope.csv: no such file",)),
             BadFile("missing-column", {"t.csv": "text,label\nhello,greeting\njust text\n"},
                     ("data.train={dir}/t.csv",), ("t.csv:3: expected 2 columns",)),
             BadFile("no-rows", {"t.csv": "text,label\n"}, ("data.train={dir}/t.csv",),
                     ("t.csv: the file has no data rows",)),
             BadFile("not-utf8", {"t.tsv": b"text\tlabel\nhello\tgreeting\ncaf\xe9\tgreeting\n"},
                     ("data.train={dir}/t.tsv",), ("t.tsv:3: not valid UTF-8",)),
         ),
         bad_keys=(("model.unit=3", "unknown key 'model.unit'", "did you mean 'units'"),
                   ("train.epochs=many", "train.epochs: expected an integer"),
                   ("model.dropout=1.0", "model.dropout: expected a number in [0, 1)"),
                   ("export.min_score=1.5", "export.min_score"))),
    Spec("tagging", (*TINY_MODEL, "model.char_embedding_dim=8", "model.char_units=8"),
         {"text": ("string", [None])}, {"tokens", "tags", "lengths"},
         _tagging, ("token accuracy of at least 95%", lambda t: t["accuracy"] >= 0.95),
         bad_files=(
             BadFile("conll-too-few-columns", {"t.conll": "The DT B-NP\ncat NN I-NP\nsat VBD\n\n"},
                     ("data.train={dir}/t.conll",),
                     ("t.conll:3: expected 3 columns like line 1, found 2",)),
             BadFile("conllu-too-few-columns", {"t.conllu": _CONLLU_ROW + "2\tcat\tNOUN\n"},
                     ("data.train={dir}/t.conllu",),
                     ("t.conllu:2: expected 10 tab-separated columns",)),
             BadFile("token-without-tag", {"t.iob": "John B-PER\nsmiled O\n\nMary\nlaughed O\n"},
                     ("data.train={dir}/t.iob",), ("t.iob:4: token 'Mary' has no tag",)),
             BadFile("token-holding-whitespace",
                     {"t.conllu": "1\tNew York\t_\tPROPN\t_\t_\t0\troot\t_\t_\n"},
                     tuple(f"data.{s}={{dir}}/t.conllu" for s in ("train", "validation", "test")),
                     ("t.conllu:1: token 'New York' is empty or holds whitespace",)),
             BadFile("empty", {"t.conllu": ""}, ("data.train={dir}/t.conllu",),
                     ("t.conllu: no sentences found",)),
         ),
         bad_keys=(("model.char_encoder=lstm", "model.char_encoder"),)),
    Spec("translation", (*TINY_MODEL, "decode.beam_width=2", "decode.max_length=12"),
         {"text": ("string", [None])}, {"translation", "score"},
         _translation, ("BLEU of at least 90", lambda t: t["bleu"] >= 90.0),
         bad_files=(
             BadFile("mismatched-parallel-files", {"a.de": "eins\nzwei\ndrei\n",
                                                   "a.en": "one\ntwo\n"},
                     ('data.train=["{dir}/a.de", "{dir}/a.en"]',), ("a.de: 3 lines but",
                                                                     "a.en has 2")),
             BadFile("tsv-line-without-tab", {"p.tsv": "hallo\thello\nkein tab hier\n"},
                     ("data.train={dir}/p.tsv",),
                     ("p.tsv:2: expected at least 2 tab-separated columns",)),
             BadFile("every-pair-too-long", {"train.tsv": "a b c\tx y z\n" * 10},
                     ("data.train={dir}/train.tsv", "data.max_length=2"),
                     ("train.tsv: every training pair is longer than data.max_length=2",)),
         ),
         bad_keys=(("decode.beam_width=0", "decode.beam_width: expected a positive integer"),
                   ("model.dropout=1.0", "model.dropout: expected a number in [0, 1)"),
                   ("train.batch_size=0", "train.batch_size: expected a positive integer")),
         round_trip=_translation_ids),
    Spec("captioning", (*TINY_MODEL, "data.image_size=32", "decode.beam_width=2"),
         {"image": ("string", [None])}, {"caption"},
         _captioning, ("BLEU-4 of at least 80", lambda t: t["bleu_4"] >= 80.0),
         bad_files=(
             BadFile("empty", {"captions.txt": "\n"}, ("data.train={dir}/captions.txt",),
                     ("captions.txt", "no captions found")),
             BadFile("missing-image", {"captions.txt": "image,caption\nghost.jpg,a square\n"},
                     ("data.train={dir}/captions.txt", "data.image_dir={dir}"),
                     ("captions.txt:2", "ghost.jpg", "not found")),
         ),
         bad_keys=(("decode.beam_width=0", "decode.beam_width", "expected a positive integer"),
                   ("model.dropout=1.0", "model.dropout", "expected a number in [0, 1)"),
                   ("data.image_size=0", "data.image_size", "expected a positive integer"),
                   ("model.encoder_weights=imagenet", "model.encoder_weights",
                    "trained from scratch"),
                   ("model.layers=2", "model.layers: this recipe has no such key")),
         round_trip=_caption_ids),
    Spec("language_model", (*TINY_MODEL, "train.bptt=20", "generate.length=8"),
         {"prompt": ("string", [None])}, {"text"},
         _language_model, ("bits per character under half the unigram entropy",
                           _below_unigram_entropy),
         bad_files=(
             BadFile("empty", {"empty.txt": "\n\n"}, ("data.train={dir}/empty.txt",),
                     ("empty.txt", "no text found")),
             BadFile("shorter-than-one-window", {"short.txt": "to be or not to be\n" * 3},
                     ("data.train={dir}/short.txt",),
                     ("short.txt", "too few for one window", "train.bptt")),
         ),
         bad_keys=(("train.bptt=0", "train.bptt", "expected a positive integer"),
                   ("generate.length=-1", "generate.length", "expected a positive integer"),
                   ("data.test_fraction=1.0", "data.test_fraction",
                    "expected a number in [0, 1)"),
                   ("model.bidirectional=true", "model.bidirectional: this recipe has no such")),
         round_trip=_text_ids),
    Spec("forecasting", _NO_MODEL_EMBEDDING,
         {"values": ("float32", [None, 30])}, {"forecast"},
         _forecasting, ("RMSE under 0.95x persistence's",
                        lambda t: t["rmse"] < 0.95 * t["persistence_rmse"]),
         bad_files=(
             BadFile("non-numeric-value", {"s.csv": "date,temp\n2001-01-01,3.5\n"
                                                    "2001-01-02,warm\n"},
                     ("data.train={dir}/s.csv",),
                     ("s.csv:3", "'temp'", "expected a number", "'warm'")),
             BadFile("shorter-than-one-window", {"s.csv": lambda: _series(10)},
                     ("data.train={dir}/s.csv", "data.window=14"),
                     ("s.csv", "10 steps are too few", "a window of 14", "data.window")),
             BadFile("missing-day", {"s.csv": lambda: _series(100, drop=(50,))},
                     ("data.train={dir}/s.csv", "data.missing=error", "data.window=14"),
                     ("s.csv:", "no value for 2001-02-20", "data.missing")),
         ),
         bad_keys=(("model.embedding_dim=8", "model.embedding_dim: this recipe has no such"),
                   ("data.horizon=0", "data.horizon", "expected a positive integer"))),
]}
