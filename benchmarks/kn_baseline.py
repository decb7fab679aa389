"""The Kneser-Ney n-gram baseline of a word-level language-modelling corpus, scored as
``seqtasks`` scores its language model. Without ``--line-ends``: the test text read as one
stream of words (line breaks are not tokens, as ``data.line_ends = "ignore"``), every word
after the first predicted from all that precede it. With ``--line-ends`` (as the default
``data.line_ends = "token"``): each line scored by KenLM with its own end-of-sentence token
``</s>``, so line ends are predicted like words (the word-level benchmarks' protocol).
Perplexity = exp(mean negative log-likelihood).

The n-gram model is KenLM's ``lmplz`` (interpolated modified Kneser-Ney, its defaults) trained
on the training text read as one stream too, and scored with KenLM's ``query``. KenLM is not a
dependency of seqtasks; build its binaries once (C++, needs Boost)::

    pip download --no-deps kenlm && tar xzf kenlm-*.tar.gz && cd kenlm-*/ \
        && mkdir build && cd build && cmake .. && make -j2 lmplz query

Usage::

    python benchmarks/kn_baseline.py CORPUS_DIR --kenlm-bin path/to/kenlm/build/bin [--order 5]

CORPUS_DIR holds train.txt and test.txt (see word_corpus.py).
"""

import argparse
import math
import re
import subprocess
import tempfile
import time
from pathlib import Path


def one_line(path, out):
    """The text on one line; ``<unk>``, which KenLM reserves, becomes a word like any other (a
    closed-vocabulary corpus has no unknown words: ``<unk>`` is a word class it predicts)."""
    words = ["UNKWORD" if w == "<unk>" else w for w in path.read_text(encoding="utf-8").split()]
    out.write_text(" ".join(words) + "\n", encoding="utf-8")


def by_line(path, out):
    """The text line by line (KenLM adds <s> and </s> to each), ``<unk>`` renamed as in
    :func:`one_line`; empty lines dropped."""
    lines = (" ".join("UNKWORD" if w == "<unk>" else w for w in line.split())
             for line in path.read_text(encoding="utf-8").splitlines())
    out.write_text("".join(line + "\n" for line in lines if line), encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--kenlm-bin", type=Path, required=True)
    parser.add_argument("--order", type=int, default=5)
    parser.add_argument("--line-ends", action="store_true",
                        help="train and score line by line, each line end a token (</s>)")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        prepare = by_line if args.line_ends else one_line
        prepare(args.corpus / "train.txt", tmp / "train.txt")
        prepare(args.corpus / "test.txt", tmp / "test.txt")
        with (tmp / "train.txt").open() as f, (tmp / "model.arpa").open("w") as arpa:
            subprocess.run([args.kenlm_bin / "lmplz", "-o", str(args.order), "-S", "20%",
                            "-T", str(tmp)], stdin=f, stdout=arpa, stderr=subprocess.DEVNULL,
                           check=True)
        with (tmp / "test.txt").open() as f:
            out = subprocess.run([args.kenlm_bin / "query", "-v", "word", str(tmp / "model.arpa")],
                                 stdin=f, capture_output=True, text=True, check=True).stdout
    # "word=id order log10p" per token, then "</s>=..." and "Total: ..."; keep the words
    # after the first (the first is predicted from <s>, which seqtasks does not score)
    items = [item for item in re.split(r"[\t\n]", out) if "=" in item]
    if args.line_ends:  # every word and every line's </s>, each line started from <s>
        words = [float(item.rsplit(" ", 1)[1]) for item in items]
    else:
        words = [float(item.rsplit(" ", 1)[1]) for item in items
                 if not item.startswith("</s>=")][1:]
    nll = -sum(words) * math.log(10) / len(words)
    what = "words and line ends" if args.line_ends else "words"
    print(f"KN{args.order}: {len(words):,} test {what} scored, perplexity {math.exp(nll):.2f} "
          f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
