"""train.strategy = "mirrored" on CPU, split into two logical devices."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from helpers import tiny


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    overrides = tiny(f"export.dir={tmp_path / 'exports'}", "train.strategy=mirrored", epochs=2)
    script = textwrap.dedent(f"""
        import json, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import seqtasks
        from seqtasks.distribute import get_strategy
        print("replicas", get_strategy("mirrored").num_replicas_in_sync)
        result = seqtasks.run("smart_reply", {overrides!r}, output={str(tmp_path / 'run')!r},
                              verbose=0, echo=lambda *a: None)
        print(json.dumps(result.metrics["test"]))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert "replicas 2" in lines
    assert json.loads(lines[-1])["accuracy"] > 0.2  # 15 labels: chance is 0.067
