"""Progress of long passes over data whose size is not known in advance.

On a terminal one line is redrawn in place (examples read, examples/s); otherwise a line is
printed every ``every`` seconds. Nothing is shown for passes shorter than ``after`` seconds,
so small runs and tests stay quiet.
"""

import sys
import time


class Progress:
    """Counts items and reports ``<what>: N examples (R/s)`` to ``stream`` (stderr).

    Example:
    ```python
    progress = Progress("reading data.train")
    for example in examples:
        progress.add()
    progress.done()
    ```
    """

    def __init__(self, what, stream=None, every=5.0, after=2.0, unit="examples"):
        self.what, self.unit = what, unit
        self.stream = stream or sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.every = 0.2 if self.tty else every
        self.after = after
        self.count = 0
        self.start = time.monotonic()
        self._next = self.start + after
        self._shown = False

    def add(self, n=1):
        self.count += n
        if self.count & 1023 == 0 or n > 1:
            now = time.monotonic()
            if now >= self._next:
                self._show(now)
                self._next = now + self.every

    def _line(self, now):
        seconds = max(now - self.start, 1e-9)
        return (f"{self.what}: {self.count:,} {self.unit} "
                f"({self.count / seconds:,.0f}/s, {seconds:.0f} s)")

    def _show(self, now, end=False):
        line = self._line(now)
        if self.tty:
            self.stream.write("\r" + line + ("\n" if end else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._shown = True

    def done(self):
        """Print the final count (only if anything was shown before)."""
        if self._shown:
            self._show(time.monotonic(), end=True)
        return self.count

    def wrap(self, iterable):
        """``iterable``, counting every item that passes through."""
        for item in iterable:
            self.add()
            yield item
        self.done()
