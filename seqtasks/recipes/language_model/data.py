"""One long text (language_model) as a stream of lines: its end held out in the same pass that
adapts the vocabulary, and the training part read again as a prefix of the stream.

The held-out text is the last ``fraction`` of the characters (a line is cut where the share
starts), as when the text was read into memory, but at most ``limit`` characters per split: so
it is always within the last ``limit x splits`` characters, and the pass keeps only those in
memory, handing every line before them on as training text as soon as it is read.
"""

from __future__ import annotations

import collections

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
