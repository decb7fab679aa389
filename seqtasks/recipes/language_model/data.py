"""One long text (language_model) as a stream of lines: its end held out in the same pass that
adapts the vocabulary, and the training part read again as a prefix of the stream.

The held-out text is the last ``fraction`` of the characters (a line is cut where the share
starts), as when the text was read into memory, but at most ``limit`` characters per split: so
it is always within the last ``limit x splits`` characters, and the pass keeps only those in
memory, handing every line before them on as training text as soon as it is read.
"""

from __future__ import annotations

import collections

from seqtasks.errors import DataError
from seqtasks.recipes.base import Example
from seqtasks.recipes.reader import Reader

#: The held-out splits in the order they are cut from the end of the text.
ORDER = ("test", "validation")


class TextTail:
    """Cuts the held-out splits ``fractions`` (``{split: fraction}``, any of ``test`` and
    ``validation``) from the end of a text read once as lines (``Example``s whose ``input`` is
    the line, newline kept).

    After :meth:`training_lines` has been read to its end: ``held`` is ``{split: [Example]}``,
    ``train_chars`` and ``train_lines`` the size of the training part, ``total_chars`` and
    ``total_lines`` that of the whole text.
    """

    def __init__(self, fractions, limit):
        self.fractions, self.limit = dict(fractions), int(limit)
        self.held = {split: [] for split in self.fractions}
        self.train_chars = self.train_lines = self.total_chars = self.total_lines = 0

    def starts(self, total):
        """``{split: (start, end)}`` character ranges of the held-out splits of a text of
        ``total`` characters, and where the training part ends."""
        ranges, end = {}, total
        for split in ORDER:
            if split in self.fractions:
                start = max(int(end * (1 - self.fractions[split])), end - self.limit, 0)
                ranges[split], end = (start, end), start
        return ranges, end

    def training_lines(self, lines):
        """Yield the lines (or the first part of a line) of the training part of ``lines``,
        each as soon as it is certain to train; fill :attr:`held` at the end."""
        width = self.limit * len(self.fractions)
        buffer, buffered = collections.deque(), 0
        for example in lines:
            buffer.append(example)
            buffered += len(example.input)
            self.total_chars += len(example.input)
            self.total_lines += 1
            while buffer and buffered - len(buffer[0].input) >= width:
                first = buffer.popleft()
                buffered -= len(first.input)
                yield self._train(first)
        ranges, train_end = self.starts(self.total_chars)
        position = self.total_chars - buffered
        for example in buffer:
            text, start = example.input, position
            position += len(text)
            if start < train_end:
                yield self._train(example._replace(input=text[:train_end - start]))
            for split, (low, high) in ranges.items():
                piece = text[max(low - start, 0):max(min(high - start, len(text)), 0)]
                if piece:
                    self.held[split].append(example._replace(input=piece))

    def _train(self, example):
        self.train_chars += len(example.input)
        self.train_lines += 1
        return example


class TextPrefix:
    """The first ``chars`` characters of ``lines`` (a re-iterable of line ``Example``s), as
    lines: the last one cut where the prefix ends. ``len()`` is its number of lines."""

    def __init__(self, lines, chars, count):
        self.lines, self.chars, self.count = lines, chars, count

    def __len__(self):
        return self.count

    def __iter__(self):
        left = self.chars
        for example in self.lines:
            if left <= 0:
                return
            text = example.input
            yield example if len(text) <= left else example._replace(input=text[:left])
            left -= len(text)


class LanguageModelReader(Reader):
    """The lines of text files, TFDS text datasets (their ``text`` feature, joined by line
    breaks) and the built-in text; ``seqtasks predict --input`` reads one prompt per line."""

    def builtin(self, seed):
        from seqtasks.recipes.translation import builtin as translation

        lines = [source + "\n" for source, _ in translation.generate(4000, seed)]
        return {"train": [Example(line, None, f"built-in text:{i}")
                          for i, line in enumerate(lines, 1)]}

    def read_file(self, path, split):
        """The lines of a text file, one ``Example`` each, read as they are taken."""
        from seqtasks.data.readers import iter_lines

        for i, line in enumerate(iter_lines(path), 1):
            yield Example(line, None, f"{path}:{i}")

    def read_examples(self, spec, split):
        examples = super().read_examples(spec, split)
        if not any(e.input.strip() for e in examples):
            raise DataError(f"{spec}: no text found")
        return examples

    def tfds_examples(self, rows, info, where):
        from seqtasks.data.readers import decoded

        texts = [decoded(row["text"]) for row in rows]  # joined by newlines
        return [Example(text + "\n" * (i < len(texts) - 1), None, f"{where}[{i}]")
                for i, text in enumerate(texts)]

    def carve_fraction(self, split):
        return self.config["data"]["test_fraction" if split == "test" else "validation_fraction"]

    #: A worker's share of the text is a range of its tokens, taken by the recipe's dataset.
    shards = False
    unit = "lines"

    def splits(self):
        """``{split: examples}``: the training text as a stream of lines
        (:class:`~seqtasks.data.stream.Stream`), given held-out texts in memory. Missing
        held-out texts are cut from the end of the training text by :meth:`adapt`; after it
        (or restored from its :meth:`state`) the training text is the stream's prefix before
        them (:class:`TextPrefix`)."""
        from seqtasks.data.stream import Stream

        data = self.config["data"]
        if data["train"] is None:
            self.check_builtin_only()
            stream = Stream.of(self.builtin(self.config["train"]["seed"])["train"],
                               "built-in data")
        else:
            stream = self.stream(data["train"], "train")
        splits = {"train": stream, **{s: self.read_examples(data[s], s)
                                      for s in ("validation", "test") if data[s] is not None}}
        if self.restored is not None:
            self.held_out = self.restored["held_out"]
            splits.update(self.held_out)
            splits["train"] = TextPrefix(stream, *self.restored["train"])
        self.train = splits["train"]
        return splits

    def adapt(self, splits, preprocessor, observed):
        """One pass over the training text: counts its tokens (the vocabulary) and holds out
        the missing validation and test texts from its end (:class:`TextTail`: the last
        ``fraction`` of the characters, at most ``data.held_out_limit`` each, a line cut where
        a share starts). The training text is then the stream's prefix before them."""
        stream = splits["train"]
        missing = {s: self.carve_fraction(s) for s in ("test", "validation") if s not in splits}
        tail = TextTail(missing, self.config["data"]["held_out_limit"])
        text_seen = []

        def seen(lines):
            for example in lines:
                if not text_seen and example.input.strip():
                    text_seen.append(True)
                yield example

        preprocessor.adapt(tail.training_lines(seen(observed(stream))))
        if not text_seen:
            raise DataError(f"{self.describe('train')}: no text found")
        for split, held in tail.held.items():
            if not held or not tail.train_chars:
                raise self.too_few(tail.total_lines, split)
        splits.update(tail.held)
        splits["train"] = self.train = TextPrefix(stream, tail.train_chars, tail.train_lines)
        self.check_not_empty(splits)
        self.held_out = tail.held

    def state(self):
        """The held-out texts cut from the end and the training part's size."""
        train = self.train
        return {"held_out": {s: list(e) for s, e in self.held_out.items()},
                "train": (train.chars, train.count)}

    def raw_inputs(self, examples):
        return {"prompt": [e.input for e in examples]}

    def prediction_inputs(self, path):
        """One prompt per line of a text file (without its line break), streamed."""
        from seqtasks.data.readers import iter_lines

        for i, line in enumerate(iter_lines(path), 1):
            yield f"{path}:{i}", {"prompt": line.rstrip("\r\n")}

    def format_prediction(self, inputs, outputs):
        return [t.decode("utf-8") for t in outputs["text"]]
