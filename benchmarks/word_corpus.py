"""Build a word-level language-modelling corpus of about a million tokens from the English text
in ``../shared/datasets``, prepared the way the Penn Treebank LM corpus is (Mikolov's copy):
lowercased, tokenized, numbers replaced by ``N``, a closed vocabulary of 10,000 words with the
rest written as ``<unk>``, one sentence per line, a train / valid / test split.

Sources, in this order (each cut in place: its first 90% to train, the next 5% to valid, the
last 5% to test, so held-out text follows the text it was trained on and no sentence is shared):

- Multi30k English (train, val and test_2016_flickr sides): image descriptions;
- UD English EWT (the ``# text`` line of every sentence, train, dev and test): web text;
- tiny-shakespeare, line by line: plays;
- CLINC150 (every query of data_full.json): requests to an assistant.

Usage::

    python benchmarks/word_corpus.py ../shared/datasets OUT_DIR

writes ``OUT_DIR/{train,valid,test}.txt`` and prints their token counts.
"""

import argparse
import collections
import gzip
import json
import re
from pathlib import Path

VOCABULARY = 10_000  # <unk> included, as in the PTB corpus
TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|'[a-z]+|[0-9][0-9.,]*|[^\w\s]")


def tokens(line):
    """A line's tokens, PTB-like: lowercase words, clitics kept on the word (``don't``),
    punctuation split off, every number written ``N``."""
    return ["N" if t[0].isdigit() else t for t in TOKEN.findall(line.lower())]


def multi30k(root):
    folder = root / "translation" / "multi30k_en_de"
    for name in ("train.en.gz", "val.en.gz", "test_2016_flickr.en.gz"):
        with gzip.open(folder / name, "rt", encoding="utf-8") as f:
            yield from f


def ewt(root):
    for split in ("train", "dev", "test"):
        path = root / "tagging" / "ud_english_ewt" / f"en_ewt-ud-{split}.conllu"
        with path.open(encoding="utf-8") as f:
            yield from (line[len("# text = "):] for line in f if line.startswith("# text = "))


def shakespeare(root):
    path = root / "language_modelling" / "tinyshakespeare" / "input.txt"
    with path.open(encoding="utf-8") as f:
        yield from f


def clinc150(root):
    with (root / "smart_reply" / "clinc150" / "data_full.json").open(encoding="utf-8") as f:
        data = json.load(f)
    for split in sorted(data):
        yield from (text for text, _ in data[split])


SOURCES = (multi30k, ewt, shakespeare, clinc150)


def build(root):
    """``{"train"|"valid"|"test": [sentence tokens]}`` before the vocabulary is closed."""
    splits = {"train": [], "valid": [], "test": []}
    for source in SOURCES:
        sentences = [t for t in map(tokens, source(root)) if t]
        a, b = int(len(sentences) * 0.9), int(len(sentences) * 0.95)
        splits["train"] += sentences[:a]
        splits["valid"] += sentences[a:b]
        splits["test"] += sentences[b:]
    return splits


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", type=Path, help="the shared datasets folder")
    parser.add_argument("out", type=Path, help="folder for train.txt, valid.txt, test.txt")
    args = parser.parse_args()
    splits = build(args.datasets)
    counts = collections.Counter(t for sentence in splits["train"] for t in sentence)
    known = {t for t, _ in counts.most_common(VOCABULARY - 1)} | {"<unk>"}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, sentences in splits.items():
        lines = [" ".join(t if t in known else "<unk>" for t in s) for s in sentences]
        unknown = sum(line.split().count("<unk>") for line in lines)
        n = sum(len(s) for s in sentences)
        tmp = args.out / f".{name}.txt.tmp"
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(args.out / f"{name}.txt")
        print(f"{name}: {len(lines):,} sentences, {n:,} tokens, {unknown / n:.1%} <unk>")
    print(f"vocabulary: {len(known):,} words (<unk> included)")


if __name__ == "__main__":
    main()
