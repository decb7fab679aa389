"""language_model's tokenizer on a text file: seconds to adapt (count the vocabulary) and to
encode the text into ids, at character and word level, through the graph tokenizer and lookup
that serving uses. Prints one line per level with the vocabulary size and an id checksum, so
two commits can be compared (same checksum: the same ids).

    python benchmarks/lm_tokenize.py ../shared/datasets/language_modelling/tinyshakespeare/input.txt
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(path):
    from seqtasks.recipes.base import Example
    from seqtasks.recipes.language_model.preprocessor import LanguageModelPreprocessor

    with open(path, encoding="utf-8") as f:
        lines = [Example(line, None, path) for line in f]
    megabytes = sum(len(e.input.encode()) for e in lines) / 2**20
    for level in ("char", "word"):
        p = LanguageModelPreprocessor(level)
        start = time.perf_counter()
        p.adapt(lines)
        adapted = time.perf_counter()
        ids = p.stream_ids(lines)
        done = time.perf_counter()
        print(f"{level}: {megabytes:.2f} MB, vocabulary {len(p.vocabulary)}, {len(ids)} ids "
              f"(checksum {int(ids.sum())}), adapt {adapted - start:.2f} s, "
              f"encode {done - adapted:.2f} s")


if __name__ == "__main__":
    main(sys.argv[1])
