"""`DynamicBatcher`: concurrent async callers share one session run, only when that pays.

    batcher = DynamicBatcher(session, max_batch_size=32)
    probs = await batcher.submit({"features": x})      # x: one sample, without the batch dimension

Requests are validated one by one before they join a batch (a bad input fails only its caller).
The batcher never holds a request while it has a free runner: a request arriving with a runner
free runs at once, alone (a lone caller pays no wait). Requests that arrive while every runner is
busy queue up, and the next free runner takes them together — so the wait adapts to the load: it
is zero when idle and at most one run long when busy. Whether grouping pays is measured, not
assumed (`BatchPolicy`): the seconds per request of grouped runs are compared with those of
single runs, and when batches are no cheaper per request the batcher stops grouping and lets up
to `max_parallel_runs` single runs overlap, like plain concurrent calls (re-checking now and
then). Runs happen in worker threads so the event loop keeps accepting requests; each caller gets
its own slice of the outputs, or its batch's exception.

Hand-written because no maintained library batches onnxruntime calls for asyncio callers
(servers such as Triton do it out of process).
"""

from __future__ import annotations

import asyncio
import collections
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent_otel.optimize.measure import ModelError
from agent_otel.optimize.telemetry import instrument


@dataclass
class _Request:
    feed: dict[str, np.ndarray]
    future: asyncio.Future[Any]
    enqueued: float = field(default_factory=time.perf_counter)


@dataclass
class BatchPolicy:
    """How many queued requests a free runner takes, and how many runs may overlap.

    Decisions only (no clock, no threads), so they are testable as such. `observe` feeds it the
    measured duration of each run; grouping is judged to pay while grouped runs cost at most
    `pay_ratio` of a single run's seconds per request.
    """

    max_batch_size: int = 32
    batch_runners: int = 2          # overlapping runs while grouping (one fills while one runs)
    max_parallel_runs: int = 8      # overlapping single runs when grouping does not pay
    pay_ratio: float = 0.9
    recheck_every: int = 64         # runs between re-trials of grouping once it was judged not to pay
    alpha: float = 0.2              # weight of the newest run in the moving averages
    single_s: float | None = None   # moving average: seconds of a run of one request
    grouped_s_per_request: float | None = None  # moving average: seconds per request of grouped runs
    _since_trial: int = 0

    @property
    def grouping_pays(self) -> bool:
        """Until both kinds of run were measured, grouping is assumed to pay (it does for every
        model whose per-run overhead is not negligible)."""
        if self.single_s is None or self.grouped_s_per_request is None:
            return True
        return self.grouped_s_per_request <= self.pay_ratio * self.single_s

    def runners(self) -> int:
        return self.batch_runners if self.grouping_pays else self.max_parallel_runs

    def take(self, queued: int, running: int, smallest_running: int = 0) -> int:
        """How many of `queued` requests to start as one run now (0: wait for a runner).

        `smallest_running`: requests in the smallest run in progress. While grouping pays, an
        idle batcher starts at once whatever is queued; with a run in progress, another starts
        only once as many requests queue as that run holds (or a full batch): a second small run
        would only compete for the same cores, while waiting for the run to end costs at most
        one run's time and fills the next batch."""
        if queued <= 0 or running >= self.runners():
            return 0
        if self.grouping_pays:
            if running and queued < min(smallest_running, self.max_batch_size):
                return 0
            return min(queued, self.max_batch_size)
        self._since_trial += 1
        if self._since_trial >= self.recheck_every and queued > 1:  # measure grouping again: the load may have changed
            self._since_trial = 0
            return min(queued, self.max_batch_size)
        return 1

    def observe(self, size: int, seconds: float) -> None:
        if size <= 0 or seconds < 0:
            return
        if size == 1:
            self.single_s = seconds if self.single_s is None else (1 - self.alpha) * self.single_s + self.alpha * seconds
        else:
            per = seconds / size
            g = self.grouped_s_per_request
            self.grouped_s_per_request = per if g is None else (1 - self.alpha) * g + self.alpha * per


class DynamicBatcher:
    def __init__(self, session: Any, *, max_batch_size: int = 32, max_wait_ms: float = 2.0, attributes: dict[str, Any] | None = None,
                 max_parallel_runs: int | None = None) -> None:
        """`max_wait_ms` is accepted for compatibility and validated, but no longer holds anyone:
        the wait is adaptive (zero while a runner is free, else until one frees). `max_parallel_runs`:
        overlapping single runs when grouping does not pay (default: the default executor's thread count)."""
        if max_batch_size < 1 or max_wait_ms < 0:
            raise ValueError(f"DynamicBatcher: max_batch_size must be >= 1 and max_wait_ms >= 0, got {max_batch_size}, {max_wait_ms}")
        self.session = session
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000
        self.attributes = attributes or {}
        self.policy = BatchPolicy(max_batch_size=max_batch_size, max_parallel_runs=max_parallel_runs or min(32, (os.cpu_count() or 1) + 4))
        self._inputs = {i.name: i for i in session.get_inputs()}
        self._shapes = {name: list(i.shape[1:]) for name, i in self._inputs.items()}
        self._queue: collections.deque[_Request] = collections.deque()
        self._running = 0
        self._sizes: list[int] = []  # requests in each run in progress
        self._tasks: set[asyncio.Task[None]] = set()

    def _validate(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if feed.keys() != self._inputs.keys():
            raise ModelError(f"inputs {sorted(feed)} do not match the model's {sorted(self._inputs)}")
        out = {}
        for name, value in feed.items():
            arr = np.asarray(value)
            declared = self._shapes[name]
            if arr.ndim != len(declared) or any(isinstance(d, int) and d != v for d, v in zip(declared, arr.shape)):
                raise ModelError(f"input {name!r}: one sample must have shape {declared}, got {list(arr.shape)}")
            out[name] = arr
        return out

    async def submit(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Outputs for this one sample (batch dimension removed)."""
        loop = asyncio.get_running_loop()
        checked = self._validate(feed)
        if not self._queue and self.policy.take(1, self._running, min(self._sizes, default=0)) == 1:
            return await self._alone(loop, checked)  # a runner is free: no wait, no hand-off to a task
        request = _Request(checked, loop.create_future())
        self._queue.append(request)
        self._dispatch(loop)
        return await request.future

    async def _alone(self, loop: asyncio.AbstractEventLoop, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """One request run at once by its own caller, as a plain call would (plus the bookkeeping)."""
        self._running += 1
        self._sizes.append(1)
        try:
            instrument("agent_otel.batcher.queue_time").record(0.0, self.attributes)
            instrument("agent_otel.batcher.batch_size").record(1, self.attributes)
            t0 = time.perf_counter()
            outputs = await loop.run_in_executor(None, self.session.run, None, {name: value[None, ...] for name, value in feed.items()})
            self.policy.observe(1, time.perf_counter() - t0)
            return [out[0] for out in outputs]
        finally:
            self._running -= 1
            self._sizes.remove(1)
            self._dispatch(loop)

    def _take(self, n: int) -> list[_Request]:
        return [self._queue.popleft() for _ in range(n)]

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start runs (each a task: a cancelled caller must not cancel the others) while the
        policy has free runners for what is queued."""
        while n := self.policy.take(len(self._queue), self._running, min(self._sizes, default=0)):
            batch = self._take(n)
            self._running += 1
            self._sizes.append(len(batch))
            task = loop.create_task(self._execute(loop, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _execute(self, loop: asyncio.AbstractEventLoop, batch: list[_Request]) -> None:
        try:
            now = time.perf_counter()
            queue_time = instrument("agent_otel.batcher.queue_time")
            for r in batch:
                queue_time.record(now - r.enqueued, self.attributes)
            instrument("agent_otel.batcher.batch_size").record(len(batch), self.attributes)
            if len(batch) == 1:
                feed = {name: value[None, ...] for name, value in batch[0].feed.items()}
            else:
                feed = {name: np.stack([r.feed[name] for r in batch]) for name in self._inputs}
            t0 = time.perf_counter()
            try:
                outputs = await loop.run_in_executor(None, self.session.run, None, feed)
            except Exception as exc:  # noqa: BLE001 - the run failed: every caller of this batch gets it
                for r in batch:
                    if not r.future.done():
                        r.future.set_exception(exc)
                return
            self.policy.observe(len(batch), time.perf_counter() - t0)
            for i, r in enumerate(batch):
                if not r.future.done():
                    r.future.set_result([out[i] for out in outputs])
        finally:
            self._running -= 1
            self._sizes.remove(len(batch))
            self._dispatch(loop)

    async def close(self) -> None:
        """Wait for the runs in progress; requests still queued fail with a clear error."""
        while self._queue:
            r = self._queue.popleft()
            if not r.future.done():
                r.future.set_exception(RuntimeError("DynamicBatcher closed before this request ran"))
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
