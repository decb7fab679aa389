"""The training corpus as a stream: carving, sharding, length buckets from counts, the chunked
tf.data source, the on-disk cache, and memory that does not grow with the corpus."""

import collections
import csv
import gc
import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from seqtasks.data.batching import length_boundaries
from seqtasks.data.stream import Carving, Stream, expand_files
from seqtasks.errors import DataError
from seqtasks.recipes import get_recipe
from seqtasks.recipes.base import Example


def write_lines(path, lines):
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def read_lines(path):
    with open(path) as f:
        for number, line in enumerate(f, 1):
            yield Example(line.strip(), None, f"{path}:{number}")


def inputs(examples):
    return [e.input for e in examples]


def test_files_are_a_path_a_glob_or_a_list(tmp_path):
    for name in ("b-2.txt", "b-1.txt", "a.txt"):
        write_lines(tmp_path / name, ["x"])
    pattern = str(tmp_path / "b-*.txt")
    assert expand_files(pattern, "data.train") == [str(tmp_path / "b-1.txt"),
                                                   str(tmp_path / "b-2.txt")]
    assert expand_files([str(tmp_path / "a.txt"), pattern], "data.train")[0].endswith("a.txt")
    with pytest.raises(DataError, match=r"data.train: the pattern .*nope-\*.txt' matches no file"):
        expand_files(str(tmp_path / "nope-*.txt"), "data.train")


def test_carving_is_seeded_limited_and_the_same_on_every_pass(tmp_path):
    path = write_lines(tmp_path / "t.txt", [f"line {i}" for i in range(2000)])

    def stream(seed, limit=10_000):
        return Stream([path], read_lines, Carving({"test": 0.1, "validation": 0.1}, seed, limit))

    first = stream(7)
    train = inputs(first)
    test, validation = inputs(first.carved["test"]), inputs(first.carved["validation"])
    assert len(first) == len(train)
    # a partition of the file, about the fractions asked for (validation: 10% of the rest)
    assert sorted(train + test + validation) == sorted(f"line {i}" for i in range(2000))
    assert 140 < len(test) < 260 and 120 < len(validation) < 240
    assert inputs(first) == train  # a second pass skips the carved records, carves no more
    assert len(first.carved["test"]) == len(test)
    again = stream(7)
    assert inputs(again) == train and inputs(again.carved["test"]) == test
    other = stream(8)
    assert inputs(other.carved["test"]) != test
    # at most `limit` per split: the first ones of what the seed carves, the rest train
    limited = stream(7, limit=50)
    rest = inputs(limited)
    assert inputs(limited.carved["test"]) == test[:50]
    assert inputs(limited.carved["validation"]) == validation[:50]
    assert inputs(limited) == rest and len(rest) == 2000 - 100


def test_workers_read_disjoint_shares_by_file_or_by_record(tmp_path):
    files = [write_lines(tmp_path / f"part-{i}.txt", [f"{i}-{j}" for j in range(30)])
             for i in range(3)]
    whole = Stream(files, read_lines, Carving({"test": 0.2}, 3, 1000))
    everything = inputs(whole)
    for stream, by_file in ((whole, True), (Stream(files[:1], read_lines), False)):
        full = inputs(stream)
        shares = [inputs(stream.shard(i, 2)) for i in range(2)]
        assert sorted(shares[0] + shares[1]) == sorted(full) and not set(shares[0]) & set(shares[1])
        if by_file:  # whole files: worker 0 reads files 0 and 2, worker 1 file 1
            assert {x.split("-")[0] for x in shares[1]} == {"1"}
        else:  # every second record
            assert shares[0] == full[0::2] and shares[1] == full[1::2]
    assert all(x not in everything for x in inputs(whole.carved["test"]))


@pytest.mark.parametrize("seed", range(5))
def test_length_buckets_from_counts_equal_numpy_quantiles_of_every_length(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 60, size=int(rng.integers(1, 3000)))
    counts = collections.Counter(int(n) for n in lengths)
    qs = np.quantile(lengths, np.linspace(0, 1, 9)[1:-1])  # the reference: NumPy on the list
    expected = sorted({int(q) + 1 for q in qs if int(q) + 1 < lengths.max() + 1})
    assert length_boundaries(dict(counts)) == expected == length_boundaries(list(lengths))


def test_stream_dataset_gives_the_elements_of_from_tensor_slices():
    import tensorflow as tf

    from seqtasks.data.pipeline import stream_dataset

    examples = [Example(["w"] * (i % 7 + 1), i, "x") for i in range(2500)]

    def convert(chunk):
        return ({"text": [" ".join(e.input) for e in chunk]},
                tf.ragged.constant([[e.target] * len(e.input) for e in chunk], tf.int32))

    streamed = stream_dataset(examples, convert, probe=examples[:2], chunk_size=300).unbatch()
    whole = tf.data.Dataset.from_tensor_slices(convert(examples))
    assert streamed.element_spec == whole.element_spec
    pairs = list(zip(streamed.as_numpy_iterator(), whole.as_numpy_iterator(), strict=True))
    assert all(a[0]["text"] == b[0]["text"] and (a[1] == b[1]).all() for a, b in pairs)


def write_messages(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("text", "label"))
        writer.writerows(rows)
    return path


def messages(count, seed):
    words = [f"w{i}" for i in range(300)]
    rng = np.random.default_rng(seed)
    for _ in range(count):
        label = int(rng.integers(0, 20))
        size = int(rng.integers(3, 12))
        yield " ".join(rng.choice(words, size)) + f" topic{label}", f"intent{label}"


def smart_reply(*overrides):
    recipe = get_recipe("smart_reply")
    return recipe(recipe.default_config(["train.batch_size=16", *overrides]))


def test_a_sharded_corpus_streams_and_the_disk_cache_equals_the_memory_cache(tmp_path):
    for i in range(3):
        write_messages(tmp_path / f"train-{i}.csv", messages(300, i))
    built = {}
    for mode in ("memory", "disk"):
        task = smart_reply(f"data.train={tmp_path / 'train-*.csv'}", f"data.cache={mode}")
        task.cache_dir = tmp_path / "cache"
        datasets = task.build_datasets()
        assert isinstance(task.splits["train"], Stream) and len(task.splits["train"]) > 700
        assert task.cache_mode("train") == mode
        built[mode] = [tuple(t.numpy().tolist() for t in batch) for batch in datasets["train"]]
        if mode == "disk":  # written by the first pass over the dataset, read by the next
            assert (tmp_path / "cache" / "train.index").exists()
            again = [tuple(t.numpy().tolist() for t in b) for b in datasets["train"]]
            assert again == built[mode]
    assert built["disk"] == built["memory"]
    assert sum(len(x) for x, _ in built["disk"]) == len(task.splits["train"])


def flat(batch):
    return [t.numpy().tolist() for t in __import__("tensorflow").nest.flatten(batch)]


def test_streamed_rows_are_batched_uncut_and_give_the_batches_of_cut_rows(tmp_path):
    """Streamed rows are padded to their chunk's longest and go into the shuffle buffer as
    they are; bucketing reads each row's real length and every batch is cut: the batches
    equal those of the rows encoded one by one (the in-memory path), for a recipe whose rows
    end with non-zero ids (translation, each part its own length) and one whose tag 0 is a
    real tag (tagging: cut by the words, characters by the longest word)."""
    rng = np.random.default_rng(4)
    words = [f"w{i}" for i in range(50)] + ["Übermäßig", "x", "longerwordhere"]
    pairs = [(" ".join(rng.choice(words, rng.integers(1, 9))),
              " ".join(rng.choice(words, rng.integers(1, 12)))) for _ in range(700)]
    (tmp_path / "train.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in pairs))
    tags = ["A", "B", "C"]  # "A" is tag 0: a sentence may end with it
    with open(tmp_path / "train.conll", "w") as f:
        for _ in range(700):
            for _ in range(rng.integers(1, 9)):
                f.write(f"{rng.choice(words)} {rng.choice(tags)}\n")
            f.write("\n")
    jobs = {"translation": ["data.train=" + str(tmp_path / "train.tsv")],
            "tagging": ["data.train=" + str(tmp_path / "train.conll"),
                        "data.rare_word_dropout=0"]}
    for name, overrides in jobs.items():
        built = {}
        for mode in ("memory", "none"):
            recipe = get_recipe(name)
            task = recipe(recipe.default_config(["train.batch_size=16", f"data.cache={mode}",
                                                 *overrides]))
            datasets = task.build_datasets()
            built[mode] = {split: [flat(b) for b in datasets[split]] for split in datasets}
        assert built["none"] == built["memory"], name
        assert len(built["none"]["train"]) > 20


def _peak_python_bytes(tmp_path, rows):
    train = write_messages(tmp_path / f"train-{rows}.csv", messages(rows, 0))
    held_out = write_messages(tmp_path / "held-out.csv", messages(200, 1))
    task = smart_reply(f"data.train={train}", f"data.validation={held_out}",
                       f"data.test={held_out}", "data.cache=disk")
    task.cache_dir = tmp_path / f"cache-{rows}"
    task.summary_examples = 500  # the summary's prefix: the same at both sizes
    gc.collect()
    tracemalloc.start()
    try:
        task.build_datasets()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _peaks_in_a_new_process(tmp_path, sizes):
    """:func:`_peak_python_bytes` of each size, in one new Python process after a small
    warm-up run (TensorFlow's import and first traces are not counted). Its full collections
    and tracemalloc then see this test's objects only, not all that a test worker holds
    (inside a worker the test took 150-450 s)."""
    script = textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_stream import _peak_python_bytes
        folder = Path({str(tmp_path)!r})
        _peak_python_bytes(folder, 200)
        print(json.dumps([_peak_python_bytes(folder, rows) for rows in {list(sizes)!r}]))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=1200, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow
def test_python_memory_of_the_adaptation_pass_does_not_grow_with_the_corpus(tmp_path):
    """Ten times the examples, about the same peak of Python allocations: no list of the
    corpus anywhere (the old pipeline held every example and its length)."""
    small, large = _peaks_in_a_new_process(tmp_path, (2_000, 20_000))
    assert large < 1.3 * small + 2_000_000, (small, large)
