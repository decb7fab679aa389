"""Keep TensorFlow's start-up chatter off a user's terminal, and its real errors on it.

TensorFlow's C++ code writes to file descriptor 2 directly, some of it before its logging is
configured and some of it at ERROR level (``TF_CPP_MIN_LOG_LEVEL=2`` lets ERROR through): on a
machine without a GPU, ``failed call to cuInit``; on a CPU without AVX-512, ``oneDNN supports
DT_BOOL only on platforms with AVX-512``. Neither is something a user can act on. The command
line passes its standard error through :func:`filter_stderr`, which drops exactly those lines
(:data:`NOISE`) and passes everything else through as it comes.
"""

import atexit
import re
import sys
import threading

#: Lines of TensorFlow's start-up that say nothing a user can act on.
NOISE = re.compile(rb"cuInit|Could not find cuda drivers|cudart_stub|cuda_dnn|cuda_blas|"
                   rb"cuda_fft|oneDNN custom operations are on|oneDNN supports DT_BOOL|"
                   rb"cpu_feature_guard|absl::InitializeLog\(\) is called|"
                   rb"TensorFlow binary is optimized|rebuild TensorFlow with the appropriate")
#: How a line of TensorFlow's C++ logging starts (``E0000 00:00:...``), or absl's warning.
LOG_LINE = re.compile(rb"[IWEF]\d{4} |WARNING: All log messages|To enable the following")


class _Stderr:
    """``sys.stderr`` writing into the filter, still saying whether the terminal is one."""

    def __init__(self, stream, tty):
        self._stream, self._tty = stream, tty

    def isatty(self):
        return self._tty

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _pump(read, real):
    import os

    pending = b""
    while chunk := os.read(read, 65536):
        pending += chunk
        while pending:
            end = pending.find(b"\n")
            if LOG_LINE.match(pending):  # a log line: wait for its end, then judge it whole
                if end < 0:
                    break
                line, pending = pending[:end + 1], pending[end + 1:]
                if not NOISE.search(line):
                    os.write(real, line)
            else:  # anything else (progress bars too) passes through at once
                cut = end + 1 if end >= 0 else len(pending)
                os.write(real, pending[:cut])
                pending = pending[cut:]
    if pending:
        os.write(real, pending)


def filter_stderr():
    """Route file descriptor 2 through the filter, once per process; nothing happens where
    standard error is not a real file descriptor (a test runner capturing it)."""
    import os

    if isinstance(sys.stderr, _Stderr):
        return
    try:
        if sys.stderr.fileno() != 2:
            return
    except (AttributeError, OSError, ValueError):
        return
    tty = sys.stderr.isatty()
    sys.stderr.flush()
    real = os.dup(2)
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)
    thread = threading.Thread(target=_pump, args=(read, real), daemon=True,
                              name="seqtasks-stderr")
    thread.start()
    sys.stderr = _Stderr(sys.stderr, tty)

    def restore():
        sys.stderr.flush()
        os.dup2(real, 2)  # the pipe's last writer closes: the pump reads to the end
        thread.join(timeout=5)

    atexit.register(restore)
