"""train.strategy = "multi_worker" with two real worker processes on 127.0.0.1 (TF_CONFIG).

* a streamed training set is sharded by reading: each worker reads only its own share
  (every second record of one file here), the workers take the same number of steps; data
  every worker holds (held-out splits) is shared out by rows of every global batch;
* every recipe trains under it; only the chief writes the run directory, the other worker's
  temporary directory is removed;
* kill -9 of a worker mid-epoch, then the same command again: the run resumes from the last
  completed epoch and ends with exactly the metrics of an uninterrupted run.
"""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from helpers import set_args, tiny, write_csv
from samples import TINY

import seqtasks
from seqtasks.launch import free_ports, tf_configs

pytestmark = pytest.mark.xdist_group("multi_worker")  # one cluster at a time on 2 cores


def start_workers(script, tmp_path, env=({}, {})):
    """Two processes running ``python -c script`` as the workers of one cluster (``env``:
    each one's extra environment variables)."""
    base = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    processes = []
    for config, extra in zip(tf_configs(free_ports(2)), env):
        processes.append(subprocess.Popen(
            [sys.executable, "-c", script], cwd=tmp_path,
            env={**base, **extra, "TF_CONFIG": config},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    return processes


def finish(processes, timeout=240):
    outputs = [p.communicate(timeout=timeout)[0] for p in processes]
    failed = [f"worker {i}: {out[-3000:]}" for i, (p, out) in enumerate(zip(processes, outputs))
              if p.returncode != 0]
    assert not failed, "\n".join(failed)
    return outputs


def unique_messages(count):
    """smart_reply rows whose first word names the row: an example is identified in a batch by
    its first token."""
    return [(f"row{i} please help with item{i % 7}", f"label{i % 3}") for i in range(count)]


def test_each_worker_reads_only_its_own_share_of_a_streamed_training_set(tmp_path):
    train = write_csv(tmp_path / "train.csv", unique_messages(150))
    overrides = tiny(f"data.train={train}", "train.strategy=multi_worker",
                     "train.batch_size=8", "data.max_tokens=1000")
    script = textwrap.dedent(f"""
        import json, os, seqtasks
        from seqtasks import distribute
        from seqtasks.data.batching import epoch_variable
        strategy = distribute.get_strategy("multi_worker")
        recipe = seqtasks.get_recipe("smart_reply")
        task = recipe(recipe.default_config({overrides!r}))
        data = task.build_datasets()
        vocabulary = task.preprocessor.lookup.get_vocabulary()
        local = distribute.distribute_dataset(strategy, data["train"])
        seen = {{}}
        for epoch in (0, 1):
            epoch_variable().assign(epoch)
            own = [[vocabulary[i] for i in x[:, 0].numpy()] for x, *_ in data["train"]]
            mine = [[vocabulary[i] for i in x.values[0][:, 0].numpy()] for x, *_ in local]
            seen[epoch] = {{"own": own, "mine": mine}}
        print(json.dumps({{"role": distribute.role().index, "seen": seen,
                          "steps": task.steps_per_worker(),
                          "share": [e.input.split()[0] for e in task.train_share()],
                          "train": [e.input.split()[0] for e in task.splits["train"]]}}))
    """)
    outputs = finish(start_workers(script, tmp_path))
    results = {r["role"]: r for r in (json.loads(o.strip().splitlines()[-1]) for o in outputs)}
    shares = [results[w]["share"] for w in (0, 1)]
    train = results[0]["train"]
    assert train == results[1]["train"] and 100 < len(train) < 150  # test, validation carved
    # every second training record: disjoint shares that cover the training set
    assert shares == [train[0::2], train[1::2]]
    steps = results[0]["steps"]
    assert steps == results[1]["steps"] == len(train) // 2 // 8
    for epoch in ("0", "1"):
        mine = [results[w]["seen"][epoch]["mine"] for w in (0, 1)]
        for w in (0, 1):  # the worker's own batches, as they are
            assert mine[w] == results[w]["seen"][epoch]["own"]
            assert len(mine[w]) == steps and all(0 < len(batch) <= 8 for batch in mine[w])
            rows = [row for batch in mine[w] for row in batch]
            assert len(rows) == len(set(rows)) and set(rows) <= set(shares[w])
            assert all(re.fullmatch(r"row\d+", row) for row in rows)
    # a new order every epoch
    orders = [sum(results[0]["seen"][e]["mine"], []) for e in ("0", "1")]
    assert orders[0] != orders[1]


def test_language_model_workers_read_only_the_text_their_streams_cover(tmp_path):
    """Worker i of 2 reads only the tokens of its ``train.batch_size`` streams (a range of the
    text, the lines before it skipped untokenised, reading stopped after it): its windows are
    exactly its rows of the single process's global windows, with the same vocabulary."""
    from seqtasks.recipes.translation import builtin as translation

    text = tmp_path / "text.txt"
    text.write_text("".join(s + "\n" for s, _ in translation.generate(600, seed=3)))
    overrides = [*TINY["language_model"], f"data.train={text}", "data.tokenizer=word",
                 "train.batch_size=3", "train.bptt=5"]
    script = textwrap.dedent(f"""
        import json, seqtasks
        from seqtasks import distribute
        from seqtasks.recipes.language_model.preprocessor import LanguageModelPreprocessor
        LanguageModelPreprocessor.piece_lines = 40  # many marks to skip to
        distribute.get_strategy("multi_worker")
        recipe = seqtasks.get_recipe("language_model")
        task = recipe(recipe.default_config({[*overrides, "train.strategy=multi_worker"]!r}))
        data = task.build_datasets()
        print(json.dumps({{"role": distribute.role().index, "range": task.share_range()[1:],
                          "vocabulary": task.preprocessor.vocabulary,
                          "windows": [x.numpy().tolist() for x, _ in data["train"]],
                          "targets": [y.numpy().tolist() for _, y in data["train"]]}}))
    """)
    outputs = finish(start_workers(script, tmp_path))
    results = {r["role"]: r for r in (json.loads(o.strip().splitlines()[-1]) for o in outputs)}

    recipe = seqtasks.get_recipe("language_model")
    single = recipe(recipe.default_config([*overrides, "train.batch_size=6"]))
    data = single.build_datasets()
    assert results[0]["vocabulary"] == results[1]["vocabulary"] == single.preprocessor.vocabulary
    windows = [(x.numpy(), y.numpy()) for x, y in data["train"]]
    tokens = single.preprocessor.token_count
    assert results[0]["range"][0] == 0 and results[1]["range"][1] < tokens + 1
    assert results[0]["range"][1] - 1 == results[1]["range"][0]  # consecutive ranges
    for w in (0, 1):
        assert len(results[w]["windows"]) == len(windows) > 3
        for (x, y), mine, targets in zip(windows, results[w]["windows"], results[w]["targets"]):
            assert mine == x[3 * w:3 * w + 3].tolist() and targets == y[3 * w:3 * w + 3].tolist()


def test_held_out_batches_are_shared_out_by_rows_of_every_global_batch(tmp_path):
    """Data every worker holds (held-out splits, the recipes that do not stream): each
    worker takes its rows of every global batch."""
    validation = write_csv(tmp_path / "valid.csv", unique_messages(150))
    train = write_csv(tmp_path / "train.csv", unique_messages(150))  # every first word known
    overrides = tiny(f"data.train={train}", f"data.validation={validation}",
                     f"data.test={validation}", "train.strategy=multi_worker",
                     "train.batch_size=8", "data.max_tokens=1000")
    script = textwrap.dedent(f"""
        import json, os, seqtasks
        from seqtasks import distribute
        strategy = distribute.get_strategy("multi_worker")
        recipe = seqtasks.get_recipe("smart_reply")
        task = recipe(recipe.default_config({overrides!r}))
        data = task.build_datasets()
        vocabulary = task.preprocessor.lookup.get_vocabulary()
        local = distribute.distribute_dataset(strategy, data["validation"])
        whole = [[vocabulary[i] for i in x[:, 0].numpy()] for x, *_ in data["validation"]]
        mine = [[vocabulary[i] for i in x.values[0][:, 0].numpy()] for x, *_ in local]
        print(json.dumps({{"role": distribute.role().index, "whole": whole, "mine": mine,
                          "global": task.global_batch_size()}}))
    """)
    outputs = finish(start_workers(script, tmp_path))
    results = {r["role"]: r for r in (json.loads(o.strip().splitlines()[-1]) for o in outputs)}
    assert results[0]["global"] == results[1]["global"] == 16  # 8 per worker x 2 workers
    whole = results[0]["whole"]
    assert whole == results[1]["whole"]  # same pipeline on both workers
    whole = [batch for batch in whole if len(batch) >= 2]  # one row cannot be shared
    mine = [results[w]["mine"] for w in (0, 1)]
    assert len(mine[0]) == len(mine[1]) == len(whole)  # as many steps as global batches
    for step, batch in enumerate(whole):
        half = len(batch) // 2
        assert mine[0][step] == batch[:half] and mine[1][step] == batch[half:]
    rows = [row for worker in mine for batch in worker for row in batch]
    assert len(rows) == len(set(rows)) and sorted(rows) == sorted(sum(whole, []))


def test_every_recipe_trains_with_two_workers_and_only_the_chief_writes(tmp_path):
    """One cluster trains every recipe for an epoch (built-in data, cut small) with the
    training loop of ``seqtasks run``. The chief's run directories hold the training files;
    the other worker wrote its own into temporary directories, which are gone. (The kill test
    below runs the whole command: evaluation and export by the chief.)"""
    jobs = {name: [*TINY[name], "train.epochs=1", "train.strategy=multi_worker",
                   f"export.dir={tmp_path / 'exports'}"] for name in sorted(TINY)}
    jobs["language_model"] += ["train.batch_size=4"]
    script = textwrap.dedent(f"""
        import time
        import seqtasks
        from seqtasks import distribute, training
        distribute.get_strategy("multi_worker")
        start = time.time()
        role = distribute.role()

        def cut(builtin):
            def first(self, seed):
                splits = builtin(self, seed)
                return {{s: e[:120] if s == "train" else e[:20] for s, e in splits.items()}}
            return first

        for name, overrides in {jobs!r}.items():
            recipe = seqtasks.get_recipe(name)
            recipe.reader_cls.builtin = cut(recipe.reader_cls.builtin)
            task = recipe(recipe.default_config(overrides))
            datasets = task.build_datasets()
            model = task.build_model()
            info = training.fit(model, datasets, name, task.config["train"], task.callbacks(),
                                verbose=0, chief=role.chief)
            print(name, "done", info["epochs_run"], round(time.time() - start), flush=True)
    """)
    scratch = {i: tmp_path / f"tmp{i}" for i in (0, 1)}
    for folder in scratch.values():
        folder.mkdir()
    processes = start_workers(script, tmp_path, env=[{"TMPDIR": str(scratch[i])} for i in (0, 1)])
    chief, worker = finish(processes, timeout=600)
    for name in TINY:
        run_dir = tmp_path / name
        assert {"history.csv", "model.keras", "checkpoints", "logs"} <= {
            p.name for p in run_dir.iterdir()}, name
        assert re.search(rf"^{name} done", worker, re.M), worker[-3000:]
    assert list(scratch[1].iterdir()) == []  # the worker's scratch directories are removed


def test_kill_a_worker_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path):
    from seqtasks.recipes.smart_reply import builtin as builtin

    train = write_csv(tmp_path / "train.csv", builtin.generate(400, seed=5))
    overrides = tiny(f"data.train={train}", f"export.dir={tmp_path / 'exports'}",
                     "model.dropout=0.3", "train.reduce_lr_patience=1",
                     "train.learning_rate=0.01", epochs=3)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}

    def command(run_dir):
        return [sys.executable, "-m", "seqtasks", "run", "smart_reply", *set_args(overrides),
                "--workers", "2", "--output", str(run_dir)]

    def history(run_dir):
        with open(run_dir / "history.csv") as f:
            return list(csv.DictReader(f))

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    whole = subprocess.run(command(tmp_path / "whole"), env={**env, "TMPDIR": str(scratch)},
                           capture_output=True, text=True)
    assert whole.returncode == 0, whole.stdout[-3000:] + whole.stderr[-3000:]
    assert list(scratch.iterdir()) == []  # worker 1's scratch directory is removed
    assert {p.name for p in (tmp_path / "whole").iterdir()} == {
        "config.toml", "checkpoints", "logs", "history.csv", "model.keras", "training.json",
        "metrics.json", "data_state.pkl"}  # the backup and the cache are removed at the end

    run_dir = tmp_path / "killed"
    launcher = subprocess.Popen(command(run_dir), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    first = launcher.stdout.readline()
    pids = [int(p) for p in re.search(r"pids ([\d ]+)\)", first).group(1).split()]
    deadline = time.time() + 180
    while not ((run_dir / "history.csv").exists() and len(history(run_dir)) >= 1):
        assert launcher.poll() is None and time.time() < deadline, launcher.stdout.read()
        time.sleep(0.05)
    time.sleep(0.3)  # into the second epoch
    os.kill(pids[1], signal.SIGKILL)
    output = launcher.communicate(timeout=120)[0]
    assert launcher.returncode != 0
    assert "Error: worker 1 was killed by signal 9" in output, output[-3000:]
    assert "Traceback" not in output
    assert not (run_dir / "metrics.json").exists()
    done = len(history(run_dir))
    assert 1 <= done < 3

    again = subprocess.run(command(run_dir), env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "resuming from the last completed epoch" in again.stdout
    assert f"Epoch {done + 1}/3" in again.stdout and f"Epoch {done}/3" not in again.stdout
    assert [r["epoch"] for r in history(run_dir)] == ["0", "1", "2"]
    assert history(run_dir) == history(tmp_path / "whole")
    metrics = [json.loads((d / "metrics.json").read_text())["test"]
               for d in (run_dir, tmp_path / "whole")]
    assert metrics[0] == metrics[1] and metrics[0]["accuracy"] > 1 / 15  # better than chance
