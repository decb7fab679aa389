"""TensorFlow's start-up lines a user cannot act on are dropped from standard error; its real
errors, Python's output and progress bars pass through."""

import os
import subprocess
import sys
import threading


def test_the_filter_drops_only_the_known_noise():
    from seqtasks.quiet import _pump

    read, write = os.pipe()
    out_read, out_write = os.pipe()
    pump = threading.Thread(target=_pump, args=(read, out_write))
    pump.start()
    for chunk in [
        b"E0000 00:00:1796.31 4715 cuda_platform.cc:52] failed call to cuInit: UNKNOWN (303)\n",
        b"\r 1/3 [=====>....]",  # a progress bar, no line end: passes at once
        b"\r 3/3 [==========]\n",
        b"E0000 00:00:1796.32 11901 util.cc:131] oneDNN supports DT_BOOL only on platforms ",
        b"with AVX-512. Falling back to the default Eigen-based implementation if present.\n",
        b"E0000 00:00:1796.33 11901 op_kernel.cc:1] OOM when allocating tensor\n",
        b"Traceback (most recent call last):\nValueError: bad\n",
    ]:
        os.write(write, chunk)
    os.close(write)
    pump.join(5)
    os.close(out_write)
    got = b""
    while chunk := os.read(out_read, 65536):
        got += chunk
    assert got == (b"\r 1/3 [=====>....]\r 3/3 [==========]\n"
                   b"E0000 00:00:1796.33 11901 op_kernel.cc:1] OOM when allocating tensor\n"
                   b"Traceback (most recent call last):\nValueError: bad\n")


def test_a_command_that_loads_tensorflow_prints_no_start_up_lines(tmp_path):
    env = {**os.environ}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run([sys.executable, "-m", "seqtasks", "show", "smart_reply"],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert done.returncode == 0 and "cuInit" not in done.stderr
    script = ("import sys\nfrom seqtasks.quiet import filter_stderr\nfilter_stderr()\n"
              "import tensorflow as tf\ntf.config.list_physical_devices()\n"
              "tf.constant([True]) & tf.constant([False])\n"
              "print('real problem', file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "real problem" in done.stderr
    for noise in ("cuInit", "oneDNN", "cuda drivers", "absl::InitializeLog"):
        assert noise not in done.stderr, done.stderr
