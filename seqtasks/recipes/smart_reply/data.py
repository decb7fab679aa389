"""smart_reply's readers: messages with their labels in CSV, TSV or JSON Lines files (columns by
name or index), TFDS text classification datasets and the built-in data."""

from seqtasks.recipes.base import Example
from seqtasks.recipes.reader import Reader


class SmartReplyReader(Reader):
    def columns(self, *keys):
        return [self.config["data"][f"{key}_column"] for key in keys]

    def builtin(self, seed):
        from seqtasks.recipes.smart_reply import builtin

        return {split: [Example(text, label, "built-in data") for text, label in examples]
                for split, examples in builtin.splits(seed).items()}

    def read_file(self, path, split):
        from seqtasks.data.readers import read_columns

        return (Example(text, label.strip(), f"{path}:{line}")
                for line, (text, label) in read_columns(path, self.columns("text", "label")))

    def tfds_examples(self, rows, info, where):
        from seqtasks.data.readers import decoded, tfds_feature

        text, label = self.columns("text", "label")
        tfds_feature(info, text, where, "data.text_column")
        names = getattr(tfds_feature(info, label, where, "data.label_column"), "names", None)
        return (Example(decoded(row[text]),
                        names[int(row[label])] if names else decoded(row[label]), f"{where}[{i}]")
                for i, row in enumerate(rows))

    def raw_inputs(self, examples):
        return {"text": [e.input for e in examples]}

    def prediction_inputs(self, path):
        """A ``.txt`` file, or a CSV/TSV file of one column without a header: one message per
        line; CSV, TSV or JSON Lines with a header: the text column."""
        from seqtasks.data.readers import is_plain_text, read_columns, text_lines

        if is_plain_text(path) or self._headerless(path):
            yield from ((where, {"text": text}) for where, text in text_lines(path))
            return
        for line, (text,) in read_columns(path, self.columns("text")):
            yield f"{path}:{line}", {"text": text}

    def _headerless(self, path):
        """Whether a CSV/TSV file's first row is one cell that is not the text column's name:
        messages without a header."""
        from seqtasks.data.readers import delimited_rows, file_format, iter_lines

        fmt, (column,) = file_format(path), self.columns("text")
        if fmt == "jsonl" or not isinstance(column, str):
            return False
        first = next(delimited_rows(iter_lines(path), "," if fmt == "csv" else "\t"), None)
        return first is not None and len(first[1]) == 1 and first[1][0].strip() != column

    def format_prediction(self, inputs, outputs):
        from seqtasks.abstaining import reply_lines

        silent = outputs.get("abstained", [False] * len(inputs))
        return [line for text, *row in zip(inputs, outputs["replies"], outputs["scores"], silent)
                for line in [f"> {text if len(text) <= 80 else text[:77] + '...'}",
                             *reply_lines(*row)]]

    def reply_texts(self):
        """``{label: reply}``: the built-in replies, or ``data.replies`` (label,reply rows)."""
        from seqtasks.data.readers import read_replies
        from seqtasks.recipes.smart_reply import builtin

        data = self.config["data"]
        return builtin.replies() if data["train"] is None else read_replies(data["replies"])
