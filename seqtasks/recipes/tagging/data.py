"""Read tagged sentences from CoNLL-U and CoNLL column files, with file:line in every error.

CoNLL-U (https://universaldependencies.org/format.html) has 10 tab-separated columns per token:
the token is FORM, the tag any column (UPOS by default). Column files (CoNLL-2000, CoNLL-2003,
IOB/BIO) have whitespace-separated columns, by default the token first and the tag last. A
blank line ends a sentence; files may be gzip-compressed (``.gz``) and are streamed line by line.
"""

from __future__ import annotations

import collections
import itertools
from pathlib import Path

from seqtasks.data.readers import iter_lines
from seqtasks.errors import DataError
from seqtasks.recipes.base import Example
from seqtasks.recipes.reader import Reader

Sentence = collections.namedtuple("Sentence", "tokens tags source lines")
Sentence.__doc__ = """A tagged sentence: ``tokens`` and ``tags`` (lists of str, same length),
``source`` (the file, as str) and ``lines`` (the 1-based file line of each token)."""

#: The default ``data.tag_column``: CoNLL-U's UPOS; column files: the last column.
TAG_COLUMN = "upos"
CONLLU_COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
FORMATS = {".conllu": "conllu", ".conll": "columns", ".txt": "columns", ".iob": "columns",
           ".bio": "columns"}


def conll_format(path):
    """``"conllu"`` or ``"columns"``, from the file name (an optional ``.gz`` is ignored)."""
    fmt = FORMATS.get(Path(Path(path).name.lower().removesuffix(".gz")).suffix)
    if fmt is None:
        raise DataError(f"{path}: unknown file type; expected .conllu, .conll, .txt, .iob or "
                        ".bio (optionally .gz)")
    return fmt


def _lines(path):
    """``(line_number, line)`` for each line of the file, without the line ending."""
    for number, line in enumerate(iter_lines(path), 1):
        yield number, line.removesuffix("\n").removesuffix("\r")


def _is_index(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _index(path, name, column):
    """``column``, which must be an index (int) of a column file."""
    if not _is_index(column):
        raise DataError(f"{path}: {name} must be a column index (int) for column files, "
                        f"found {column!r}")
    return column


def _sentences(path, tokens, what=None):
    """Group ``(line, token, tag)`` items (None at boundaries) into sentences, lazily; with
    ``what`` (the format, for the message), a file that has none is an error once it is read."""
    current, found = [], False
    for item in itertools.chain(tokens, [None]):
        if item is not None:
            current.append(item)
        elif current:
            lines, words, tags = zip(*current)
            found, current = True, []
            yield Sentence(list(words), list(tags), str(path), list(lines))
    if what and not found:
        raise DataError(f"{path}: no sentences found (expected {what})")


def _conllu_column(path, tag_column):
    """The 0-based index and the name used in messages of a CoNLL-U column."""
    if isinstance(tag_column, str):
        if tag_column not in CONLLU_COLUMNS:
            raise DataError(f"{path}: unknown CoNLL-U column {tag_column!r}; expected one of "
                            f"{', '.join(CONLLU_COLUMNS)} or a 0-based index")
        return CONLLU_COLUMNS.index(tag_column), tag_column
    if _is_index(tag_column) and 0 <= tag_column < len(CONLLU_COLUMNS):
        return tag_column, f"column {tag_column}"
    raise DataError(f"{path}: CoNLL-U tag column {tag_column!r} is not valid; expected one of "
                    f"{', '.join(CONLLU_COLUMNS)} or an index from 0 to {len(CONLLU_COLUMNS) - 1}")


def _conllu_tokens(path, index, label):
    for number, line in _lines(path):
        if not line.strip():
            yield None
            continue
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != len(CONLLU_COLUMNS):
            raise DataError(f"{path}:{number}: expected {len(CONLLU_COLUMNS)} tab-separated "
                            f"columns (CoNLL-U), found {len(fields)}")
        if "-" in fields[0] or "." in fields[0]:
            continue  # a multiword token (1-2) or an empty node (1.1)
        token, tag = fields[1], None if index is None else fields[index]
        if tag in ("", "_"):
            raise DataError(f"{path}:{number}: token {token!r} has no {label} tag (found {tag!r})")
        yield number, token, tag


def read_conllu(path, tag_column="upos"):
    """Sentences of a CoNLL-U file, one at a time: FORM tokens tagged with ``tag_column`` (a
    name from :data:`CONLLU_COLUMNS` or a 0-based index). Comments, multiword tokens (ID
    ``1-2``) and empty nodes (ID ``1.1``) are skipped."""
    index, label = _conllu_column(path, tag_column)
    return _sentences(path, _conllu_tokens(path, index, label), "CoNLL-U: 10 tab-separated "
                      "columns per token, a blank line after each sentence")


def _columns_needed(token_column, tag_column):
    """How many columns a line needs for both columns (0 and -1 need 2: indices counted from the
    start and from the end must not overlap)."""
    columns = [column for column in (token_column, tag_column) if column is not None]
    from_start = max((column + 1 for column in columns if column >= 0), default=0)
    return from_start + max((-column for column in columns if column < 0), default=0)


def _column_tokens(path, token_column, tag_column):
    needed = _columns_needed(token_column, tag_column)
    width = first = None
    for number, line in _lines(path):
        fields = line.split()
        if not fields or fields[0].startswith("-DOCSTART-"):
            yield None
            continue
        if len(fields) < needed:
            if -len(fields) <= token_column < len(fields):
                raise DataError(f"{path}:{number}: token {fields[token_column]!r} has no tag "
                                f"(expected at least {needed} columns, found {len(fields)})")
            raise DataError(f"{path}:{number}: expected at least {needed} columns (token column "
                            f"{token_column}, tag column {tag_column}), found {len(fields)}")
        if width is None:
            width, first = len(fields), number
        elif len(fields) != width:
            raise DataError(f"{path}:{number}: expected {width} columns like line {first}, "
                            f"found {len(fields)}")
        yield number, fields[token_column], None if tag_column is None else fields[tag_column]


def read_conll(path, token_column=0, tag_column=-1):
    """Sentences of a whitespace-separated column file, one at a time. The columns are 0-based
    indices, negative ones counting from the end. ``-DOCSTART-`` lines end a sentence; every
    token line must have as many columns as the first one."""
    _index(path, "token_column", token_column)
    _index(path, "tag_column", tag_column)
    if token_column == tag_column:
        raise DataError(f"{path}: token_column and tag_column are the same column ({tag_column})")
    return _sentences(path, _column_tokens(path, token_column, tag_column), "one token per line "
                      "with whitespace-separated columns, a blank line after each sentence")


def read_tagged(path, token_column=None, tag_column=None):
    """Sentences of a CoNLL-U or column file (:func:`conll_format`). ``tag_column`` defaults to
    ``"upos"`` for CoNLL-U and to ``-1`` for column files; ``token_column`` (default 0) is for
    column files only: CoNLL-U tokens are FORM."""
    if conll_format(path) == "conllu":
        if token_column is not None:
            raise DataError(f"{path}: token_column applies to column files only; CoNLL-U "
                            "tokens are FORM")
        return read_conllu(path, "upos" if tag_column is None else tag_column)
    return read_conll(path, 0 if token_column is None else token_column,
                      -1 if tag_column is None else tag_column)


def iter_sentences(path, token_column=None):
    """The sentences of a CoNLL-U or column file without tags (``tags`` None), streamed: a
    tagger's input file (tag columns may be absent or ``_``)."""
    if conll_format(path) == "conllu":
        return _sentences(path, _conllu_tokens(path, None, None))
    column = _index(path, "token_column", 0 if token_column is None else token_column)
    return _sentences(path, _column_tokens(path, column, None))


class TaggingReader(Reader):
    """Sentences of CoNLL-U or column files, TFDS token classification datasets, the built-in
    sentences; ``seqtasks predict --input`` reads sentences (their first column) or lines."""

    def builtin(self, seed):
        from seqtasks.recipes.tagging import builtin

        return {split: [Example(tokens, tags, "built-in data") for tokens, tags in examples]
                for split, examples in builtin.splits(seed).items()}

    def read_file(self, path, split):
        data, tag = self.config["data"], self.config["data"]["tag_column"]
        if conll_format(path) == "conllu":
            sentences = read_tagged(path, None, tag)
        else:
            sentences = read_tagged(path, data["token_column"], None if tag == TAG_COLUMN else tag)
        return (Example(s.tokens, s.tags, s.source, s.lines) for s in sentences)

    def tfds_examples(self, rows, info, where):
        from seqtasks.data.readers import decoded, tfds_feature

        column = self.config["data"]["tag_column"]
        for name in ("tokens", column):  # the tags: the last feature checked
            feature = tfds_feature(info, name, where, "data.tag_column to the tags' feature")
        names = getattr(getattr(feature, "feature", None), "names", None)
        for i, row in enumerate(rows):
            tokens = [decoded(t) for t in row["tokens"]]
            tags = [names[int(t)] if names else decoded(t) for t in row[column]]
            if len(tokens) != len(tags):
                raise DataError(f"{where}[{i}]: {len(tokens)} tokens but {len(tags)} tags")
            if tokens:
                yield Example(tokens, tags, f"{where}[{i}]")

    def prediction_inputs(self, path):
        """A ``.txt`` file: one sentence per line (tokens split on whitespace); CoNLL-U and
        column files (``.conll``, ``.iob``, ``.bio``): their sentences."""
        from seqtasks.data.readers import is_plain_text, text_lines

        if is_plain_text(path):
            yield from ((where, {"text": text.strip()}) for where, text in text_lines(path))
            return
        for s in iter_sentences(path, self.config["data"]["token_column"]):
            yield f"{s.source}:{s.lines[0]}", {"text": " ".join(s.tokens)}

    def raw_inputs(self, examples):
        return {"text": [" ".join(example.input) for example in examples]}

    def format_prediction(self, inputs, outputs):
        lines = []
        for tokens, tags, length in zip(outputs["tokens"], outputs["tags"], outputs["lengths"]):
            lines += [f"{token.decode('utf-8')}\t{tag.decode('utf-8')}"
                      for token, tag in zip(tokens[:length], tags[:length])]
            lines.append("")
        return lines
