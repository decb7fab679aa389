"""Server-side batching: requests to one signature that arrive close together run as one call.

Like TF Serving's batching, a batch is closed when it holds ``max_batch_size`` examples or
``timeout`` seconds after its first request arrived, whichever comes first. Up to
``concurrency`` batches run at once (one per thread of the executor), so the event loop reads
and answers requests while the model runs; requests that come while every thread is busy
wait and form the next batch. A batch that fails (one request's image does not decode, say) is
rerun one request at a time, so only the bad request gets the error.
"""

import asyncio

import numpy as np

#: ``seqtasks serve --max-batch-size``: two batches run at once (one per model thread), so with
#: 32 clients one batch is read while the model runs the other (docs/benchmarks.md).
MAX_BATCH_SIZE = 16


def batchable(specs):
    """Whether requests to a signature with these input specs can be concatenated: every input
    has a batch axis and fixed sizes after it."""
    return all(spec.shape.rank is not None and spec.shape.rank >= 1
               and spec.shape[1:].is_fully_defined() for spec in specs.values())


def _widths(value):
    """Per row of a batch's string output ``value`` (``[batch, columns, ...]``): the columns
    up to its last non-empty one (at least 1); None for outputs that need no trimming."""
    if value.ndim < 2 or value.dtype != object or 0 in value.shape[:2]:
        return None
    filled = value != b""
    if filled.ndim > 2:
        filled = filled.reshape(filled.shape[0], filled.shape[1], -1).any(axis=2)
    columns = filled.shape[1]
    last = columns - np.argmax(filled[:, ::-1], axis=1)
    return np.where(filled.any(axis=1), last, 1)


def _cut(value, widths, start, rows):
    """Rows ``start:start + rows`` of a batch's output, string padding beyond what those rows
    fill dropped (so it equals the output of the request run alone)."""
    part = value[start:start + rows]
    return part if widths is None else part[:, :int(widths[start:start + rows].max())]


class _Queue:
    """The requests waiting for a batch in one event loop, and the collecting task's wake-up:
    at most one per batch (when the first request comes, and when a batch is full), not one
    per request."""

    def __init__(self, loop, concurrency):
        self.loop = loop
        self.slots = asyncio.Semaphore(concurrency)  # batches that may run at once
        self.task = None  # the collecting task
        self.items = []  # (inputs, rows, future), in arrival order
        self.rows = 0
        self._wake = None  # the future the collecting task waits on
        self._wake_rows = 1  # pending rows worth waking it for

    def put(self, item):
        self.items.append(item)
        self.rows += item[1]
        if self.rows >= self._wake_rows:
            self._set_wake()

    def _set_wake(self):
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def wait(self, rows, deadline=None):
        """Until ``rows`` examples wait, or the loop's clock passes ``deadline``."""
        while self.rows < rows and (deadline is None or self.loop.time() < deadline):
            self._wake, self._wake_rows = self.loop.create_future(), rows
            timer = None if deadline is None else self.loop.call_at(deadline, self._set_wake)
            try:
                await self._wake
            finally:
                if timer is not None:
                    timer.cancel()
                self._wake = None

    def take(self, max_rows):
        """The oldest requests that fit in ``max_rows`` (the first always: larger requests
        never come here)."""
        batch, size = [], 0
        for item in self.items:
            if batch and size + item[1] > max_rows:
                break
            batch.append(item)
            size += item[1]
        del self.items[:len(batch)]
        self.rows -= size
        return batch


class Batcher:
    """Batches calls of ``function`` (``{input: array} -> {output: array}``, run in
    ``executor``) on concurrent requests.

    Args:
        function: Runs one batch; called in ``executor``'s threads.
        max_batch_size: Most examples in one batch.
        timeout: Seconds a batch waits for more requests after its first one.
        executor: A ``concurrent.futures`` executor running the batches.
        concurrency: Most batches running at once (the executor's threads).
    """

    def __init__(self, function, max_batch_size, timeout, executor, concurrency=1):
        self.function = function
        self.max_batch_size = max_batch_size
        self.timeout = timeout
        self.executor = executor
        self.concurrency = concurrency
        self._queue = None  # the current event loop's _Queue
        self.batches = []  # sizes of the batches run (for tests and the benchmark)

    async def __call__(self, inputs, rows):
        loop = asyncio.get_running_loop()
        queue = self._queue
        if queue is None or queue.loop is not loop or queue.task.done():
            # first call, or a new event loop: a queue of its own (the old loop's collecting
            # task, if that loop still runs, keeps waiting on its own queue)
            queue = self._queue = _Queue(loop, self.concurrency)
            queue.task = loop.create_task(self._collect(queue))
        future = loop.create_future()
        queue.put((inputs, rows, future))
        return await future

    async def _collect(self, queue):
        loop = queue.loop
        while True:
            await queue.wait(1)
            await queue.slots.acquire()  # a thread is free: what waits meanwhile joins this batch
            await queue.wait(self.max_batch_size, loop.time() + self.timeout)
            batch = queue.take(self.max_batch_size)
            batch = [item for item in batch if not item[2].cancelled()]
            loop.create_task(self._run_then_release(batch, queue.slots))

    async def _run_then_release(self, batch, slots):
        try:
            await self._run(batch)
        except Exception as error:  # the executor is gone: answer, never leave one waiting
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(error)
        finally:
            slots.release()

    async def _run(self, batch):
        if not batch:
            return
        loop = asyncio.get_running_loop()
        self.batches.append(sum(item[1] for item in batch))
        if len(batch) == 1:
            inputs, _, future = batch[0]
            await self._settle(future, loop.run_in_executor(self.executor, self.function, inputs))
            return
        names = batch[0][0].keys()
        feed = {k: np.concatenate([item[0][k] for item in batch]) for k in names}
        try:
            outputs = await loop.run_in_executor(self.executor, self.function, feed)
        except Exception:  # find the request that failed: each alone
            for inputs, _, future in batch:
                await self._settle(future, loop.run_in_executor(
                    self.executor, self.function, inputs))
            return
        outputs = {k: np.asarray(v) for k, v in outputs.items()}
        widths = {k: _widths(v) for k, v in outputs.items()}
        start = 0
        for _, rows, future in batch:
            if not future.done():
                future.set_result({k: _cut(v, widths[k], start, rows)
                                   for k, v in outputs.items()})
            start += rows

    @staticmethod
    async def _settle(future, work):
        try:
            result = await work
        except Exception as error:
            if not future.done():
                future.set_exception(error)
        else:
            if not future.done():
                future.set_result(result)
