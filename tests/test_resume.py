"""A run killed with SIGKILL mid-epoch resumes from the last completed epoch."""

import csv
import json
import os
import subprocess
import sys
import textwrap

import pytest
from helpers import cli, set_args, tiny

from seqtasks.recipes.smart_reply import builtin as builtin


@pytest.mark.slow
def test_kill_mid_epoch_then_resume(tmp_path):
    train = tmp_path / "train.csv"
    with open(train, "w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *builtin.generate(400, seed=3)])
    overrides = tiny(f"data.train={train}", f"export.dir={tmp_path / 'exports'}",
                     "train.early_stopping_patience=0", "train.bucketing=false",
                     "train.reduce_lr_patience=1", "data.cache=disk", epochs=3)
    run_dir = tmp_path / "run"
    # Epoch 1 completes; during epoch 2 the process kills itself with SIGKILL (no clean-up).
    script = textwrap.dedent(f"""
        import os, signal, keras, seqtasks

        class Kill(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch
            def on_train_batch_end(self, batch, logs=None):
                if self.epoch == 1 and batch == 3:
                    os.kill(os.getpid(), signal.SIGKILL)

        seqtasks.run("smart_reply", {overrides!r}, output={str(run_dir)!r},
                     extra_callbacks=[Kill()], verbose=0)
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (run_dir / "backup").exists() and not (run_dir / "metrics.json").exists()

    # The resumed run reads no training data: the adapted preprocessor and the carved
    # held-out splits come from the run directory, the encoded examples from the disk cache
    # that the first epoch wrote (so the training file may even be gone).
    assert (run_dir / "data_state.pkl").exists() and (run_dir / "cache" / "train.index").exists()
    hidden = train.rename(tmp_path / "elsewhere.csv")
    result = cli("run", "smart_reply", *set_args(overrides), "--output", run_dir)
    hidden.rename(train)
    assert result.exit_code == 0, result.output
    assert "reusing the adapted preprocessor" in result.output
    assert "resuming from the last completed epoch" in result.output
    assert not (run_dir / "cache").exists()  # removed once training is done
    assert "Epoch 1/3" not in result.output and "Epoch 2/3" in result.output
    with open(run_dir / "history.csv") as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs == [0, 1, 2]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0

    # the same as a run never interrupted: same order of examples per epoch, same dropout
    # masks, same callback counters (the backup keeps them all)
    whole = cli("run", "smart_reply", *set_args(overrides), "--output", tmp_path / "whole")
    assert whole.exit_code == 0, whole.output
    assert (run_dir / "history.csv").read_text() == (tmp_path / "whole" / "history.csv").read_text()
    assert metrics["test"] == json.loads((tmp_path / "whole" / "metrics.json").read_text())["test"]


def test_other_configuration_in_the_same_output_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.toml").write_text('recipe = "smart_reply"\n[train]\nepochs = 1\n')
    result = cli("run", "smart_reply", "--set", "train.epochs=2", "--output", run_dir)
    assert result.exit_code != 0 and "train.epochs" in result.output
    assert "different configuration" in result.output
