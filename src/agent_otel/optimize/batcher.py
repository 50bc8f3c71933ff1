"""`DynamicBatcher`: concurrent async callers share one session run, only when that pays.

    batcher = DynamicBatcher(session, max_batch_size=32)
    probs = await batcher.submit({"features": x})      # x: one sample, without the batch dimension

Requests are validated one by one before they join a batch (a bad input fails only its caller).
No request is ever held for a timer. A request that finds the batcher idle starts a run in the
same loop turn — after the callers that are ready in that turn have joined it (one `call_soon`,
microseconds). Requests arriving while a run is in progress queue, and the run's end starts the
next one with everything queued: the wait adapts to the load (none when idle, at most one run
when busy), and batches grow up to `max_batch_size` as callers do. A second run overlaps only
once as many requests wait as the smallest run in progress holds: the session's intra-op threads
already use the cores, so a small second run would mostly compete for them, yet callers that
drift apart (one request each, never meeting) still run side by side like plain calls.
Whether grouping pays is measured, not assumed (`BatchPolicy`): the seconds per request of
grouped runs are compared with those of single runs, and when batches are no cheaper per request
the batcher stops grouping and lets up to `max_parallel_runs` single runs overlap, like plain
concurrent calls (re-checking now and then).

Runs go to a thread pool (`concurrent.futures`, shared by all batchers) and answer the loop with
one `call_soon_threadsafe` (no task or chained future per run; a cancelled caller cannot cancel
the others' run), so the event loop stays free while a batch runs. A request that finds the
batcher idle right after a lone run (nobody came during it) starts at once, without the
collecting turn: one caller pays no more loop turns than a plain `run_in_executor` call.
The exception is a short run (measured to take at most `inline_ms`, 5 ms by default): it may run
on the loop thread itself, skipping the hand-off to a thread and back, which costs ~0.25 ms for a
lone request and ~0.8 ms for a batch of 32 of the bench's MLP on an idle 2-core machine. Whether
that pays depends on how busy the cores are, so it is measured per batcher and kind of run (lone
or grouped), like grouping (`BatchPolicy.runs_inline`, `WayChoice`); callers still yield to the
loop once per request.
One dedicated runner thread per batcher fed by a `SimpleQueue` was measured and rejected
(0.6-0.75x the pool's throughput for one caller).
Each caller gets its own slice of the outputs, or its batch's exception.

Hand-written because no maintained library batches onnxruntime calls for asyncio callers
(servers such as Triton do it out of process).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
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


def _average(old: float | None, new: float, alpha: float) -> float:
    """Exponential moving average (the first value taken as it is)."""
    return new if old is None else (1 - alpha) * old + alpha * new


@dataclass
class WayChoice:
    """The event loop thread or the pool, for one kind of run (of one request, or grouped), by
    measured cycle time. Of every `recheck_every` decisions the first `trial_runs` are a trial:
    half in the pool, then half on the loop thread, in blocks (alternating run by run measured
    each way with the other's after-effects: on a busy machine a run on the loop thread slows the
    next one through the pool); the rest take the way whose cycle per request was shorter. The
    first cycle after a change of way is not counted."""

    trial_runs: int = 16
    recheck_every: int = 128
    alpha: float = 0.2
    inline_cycle_s: float | None = None  # moving average, seconds per request, runs on the loop thread
    pooled_cycle_s: float | None = None  # the same through the pool
    decisions: int = 0
    _last_way: bool | None = None

    def choose(self) -> bool:
        n = self.decisions % self.recheck_every
        self.decisions += 1
        if n < self.trial_runs or self.inline_cycle_s is None or self.pooled_cycle_s is None:
            return n % self.trial_runs >= self.trial_runs // 2  # the pool's block, then the loop thread's
        return self.inline_cycle_s <= self.pooled_cycle_s

    def observe(self, inline: bool, seconds_per_request: float) -> None:
        switched, self._last_way = inline != self._last_way, inline
        if switched:
            return
        if inline:
            self.inline_cycle_s = _average(self.inline_cycle_s, seconds_per_request, self.alpha)
        else:
            self.pooled_cycle_s = _average(self.pooled_cycle_s, seconds_per_request, self.alpha)


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
    inline_s: float = 0.005         # a run known to take at most this long may run on the event loop thread (0: never)
    alpha: float = 0.2              # weight of the newest run in the moving averages
    single_s: float | None = None   # moving average: seconds of a run of one request
    grouped_s_per_request: float | None = None  # moving average: seconds per request of grouped runs
    single_way: WayChoice = field(default_factory=WayChoice)   # loop thread or pool, runs of one
    grouped_way: WayChoice = field(default_factory=WayChoice)  # the same, grouped runs
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
        """How many of `queued` requests to start as one run now (0: leave them queued).

        `smallest_running`: requests in the smallest run in progress. While grouping pays, an
        idle batcher starts at once whatever is queued; with a run in progress, another starts
        only once as many requests wait as that run holds (or a full batch): a second small run
        would mostly compete for the cores the first one's intra-op threads use, while waiting
        for it to end costs at most one run's time and fills the next batch; callers that drift
        apart (one request each, never meeting) still run side by side, like plain calls."""
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

    def short_enough(self, size: int) -> bool:
        """A run of `size` requests is known to take at most `inline_s`: it may run on the loop thread."""
        expected = self.expected_s(size)
        return self.inline_s > 0 and expected is not None and expected <= self.inline_s

    def expected_s(self, size: int) -> float | None:
        """Measured seconds of a run of `size` requests (None: not measured yet)."""
        if size == 1:
            return self.single_s
        return None if self.grouped_s_per_request is None else self.grouped_s_per_request * size

    def runs_inline(self, size: int, running: int) -> bool:
        """Whether a run that starts with no other in progress runs on the event loop thread
        instead of the pool.

        Handing a run to a thread and its answer back costs time beyond the run: on an idle 2-core
        machine ~0.25 ms for a run of one and ~0.8 ms for a run of 32 of the bench's MLP (the loop
        thread answered 1.4-1.9x sooner), while on a busy one a thread that never sleeps is
        preempted more and the pool answered sooner. For runs of a few milliseconds that is a
        large share, so it is measured, per kind of run (`WayChoice`): only runs known to take at
        most `inline_s` qualify, and they go the way whose cycle (one run's start to the next's,
        which holds the run, its answers reaching the callers and their next requests) is shorter."""
        if running or not self.short_enough(size):
            return False
        return (self.single_way if size == 1 else self.grouped_way).choose()

    def observe_cycle(self, size: int, inline: bool, seconds: float) -> None:
        """The cycle of a run of `size` requests that went the given way. A cycle far longer than
        the run means the callers paused: it says nothing about either way, and is ignored."""
        expected = self.expected_s(size)
        if seconds < 0 or expected is None or seconds > 20 * expected:
            return
        (self.single_way if size == 1 else self.grouped_way).observe(inline, seconds / size)

    def observe(self, size: int, seconds: float) -> None:
        if size <= 0 or seconds < 0:
            return
        if size == 1:
            self.single_s = _average(self.single_s, seconds, self.alpha)
        else:
            self.grouped_s_per_request = _average(self.grouped_s_per_request, seconds / size, self.alpha)


POOL_THREADS = min(32, (os.cpu_count() or 1) + 4)  # sized like asyncio's default executor


@functools.cache
def _pool() -> concurrent.futures.ThreadPoolExecutor:
    """The runner threads every batcher shares."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="agent-otel-batcher")


class DynamicBatcher:
    def __init__(self, session: Any, *, max_batch_size: int = 32, max_wait_ms: float = 2.0, attributes: dict[str, Any] | None = None,
                 max_parallel_runs: int | None = None, inline_ms: float = 5.0) -> None:
        """`max_wait_ms` is accepted for compatibility and validated, but holds no one: the wait
        is adaptive (none while a runner is free, else until a run ends). `max_parallel_runs`:
        overlapping single runs when grouping does not pay (default: the default executor's thread count).
        `inline_ms`: a run measured to take at most this long may run on the event loop thread
        when that is measured to answer sooner (the loop is busy that long, as with any short
        computation in a coroutine); 0 sends every run to the pool."""
        if max_batch_size < 1 or max_wait_ms < 0 or inline_ms < 0:
            raise ValueError(f"DynamicBatcher: max_batch_size must be >= 1, max_wait_ms and inline_ms >= 0, "
                             f"got {max_batch_size}, {max_wait_ms}, {inline_ms}")
        self.session = session
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000
        self.attributes = attributes or {}
        self.policy = BatchPolicy(max_batch_size=max_batch_size, max_parallel_runs=max_parallel_runs or POOL_THREADS,
                                  inline_s=inline_ms / 1000)
        self._inputs = {i.name: i for i in session.get_inputs()}
        self._names = list(self._inputs)
        self._shapes = {name: list(i.shape[1:]) for name, i in self._inputs.items()}
        self._fixed_shapes = {name: tuple(d) if all(isinstance(v, int) for v in d) else None for name, d in self._shapes.items()}
        self._queue: collections.deque[_Request] = collections.deque()
        self._collecting = False  # a run starts at the end of this loop turn, with whoever joined
        self._lone = False        # the last run held one request and nobody came meanwhile: start the next at once
        self._running = 0
        self._sizes: list[int] = []  # requests in each run in progress
        self._last_alone: tuple[float, bool, int] | None = None  # the last run that started alone: its start, way, size
        self._drained: asyncio.Future[None] | None = None
        self._batch_size = instrument("agent_otel.batcher.batch_size")
        self._queue_time = instrument("agent_otel.batcher.queue_time")

    def _validate(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if feed.keys() != self._inputs.keys():
            raise ModelError(f"inputs {sorted(feed)} do not match the model's {sorted(self._inputs)}")
        out = {}
        for name, value in feed.items():
            arr = value if type(value) is np.ndarray else np.asarray(value)
            if arr.shape != self._fixed_shapes[name]:  # the common case, a model with fixed sample dims, costs one comparison
                declared = self._shapes[name]
                if arr.ndim != len(declared) or any(isinstance(d, int) and d != v for d, v in zip(declared, arr.shape)):
                    raise ModelError(f"input {name!r}: one sample must have shape {declared}, got {list(arr.shape)}")
            out[name] = arr
        return out

    async def submit(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Outputs for this one sample (batch dimension removed)."""
        loop = asyncio.get_running_loop()
        request = _Request(self._validate(feed), loop.create_future())
        self._queue.append(request)
        if not self._collecting:
            if self._running or (self._lone and not self.policy.short_enough(1)):
                self._dispatch(loop)  # busy: a second run starts once as many wait as the smallest run holds
            else:  # idle: start at the end of this turn, with every caller ready in it (never inline inside a caller: it must yield)
                self._collecting = True
                loop.call_soon(self._collected, loop)
        return await request.future

    def _collected(self, loop: asyncio.AbstractEventLoop) -> None:
        self._collecting = False
        self._dispatch(loop, may_inline=True)

    def _take(self, n: int) -> list[_Request]:
        """Up to `n` queued requests whose callers still wait (a cancelled caller's request is dropped)."""
        taken: list[_Request] = []
        while self._queue and len(taken) < n:
            r = self._queue.popleft()
            if not r.future.done():
                taken.append(r)
        return taken

    def _dispatch(self, loop: asyncio.AbstractEventLoop, may_inline: bool = False) -> None:
        """Start runs while the policy has free runners for what is queued. A run belongs to no
        caller's task, so a cancelled caller cannot cancel the others' run. `may_inline`: called
        from a loop callback (not from inside a caller's coroutine), so a short run may happen here."""
        while self._queue and (n := self.policy.take(len(self._queue), self._running, min(self._sizes) if self._sizes else 0)):
            batch = self._take(n)
            if not batch:
                continue
            now = time.perf_counter()
            for r in batch:
                self._queue_time.record(now - r.enqueued, self.attributes)
            self._batch_size.record(len(batch), self.attributes)
            if len(batch) == 1:
                feed = {name: value[None, ...] for name, value in batch[0].feed.items()}
            else:
                feed = {name: np.stack([r.feed[name] for r in batch]) for name in self._names}
            self._running += 1
            self._sizes.append(len(batch))
            if self._way(len(batch), may_inline):
                t0 = time.perf_counter()
                outputs, error = self._session_run(feed)
                self._finish(loop, batch, outputs, error, time.perf_counter() - t0, dispatch=False)
            else:
                _pool().submit(self._run, loop, batch, feed)

    def _way(self, size: int, may_inline: bool) -> bool:
        """Whether this run goes on the loop thread; times the cycles of runs that start with no
        other in progress, for the policy."""
        alone = self._running == 1
        now = time.perf_counter()
        if self._last_alone is not None and alone:
            self.policy.observe_cycle(self._last_alone[2], self._last_alone[1], now - self._last_alone[0])
        inline = alone and may_inline and self.policy.runs_inline(size, 0)
        self._last_alone = (now, inline, size) if alone else None
        return inline

    def _session_run(self, feed: dict[str, np.ndarray]) -> tuple[list[np.ndarray] | None, BaseException | None]:
        try:
            return self.session.run(None, feed), None
        except BaseException as exc:  # noqa: BLE001 - handed to the callers of this batch
            return None, exc

    def _run(self, loop: asyncio.AbstractEventLoop, batch: list[_Request], feed: dict[str, np.ndarray]) -> None:
        """In a pool thread: run, then answer on the loop with one `call_soon_threadsafe`."""
        t0 = time.perf_counter()
        outputs, error = self._session_run(feed)
        try:
            loop.call_soon_threadsafe(self._finish, loop, batch, outputs, error, time.perf_counter() - t0)
        except RuntimeError:  # the loop closed meanwhile: nobody is left to answer
            pass

    def _finish(self, loop: asyncio.AbstractEventLoop, batch: list[_Request], outputs: list[np.ndarray] | None, error: BaseException | None,
                seconds: float, dispatch: bool = True) -> None:
        """On the loop: each caller of the batch gets its slice of the outputs, or the run's error;
        then (unless `_dispatch` itself is the caller) the next run starts with what queued."""
        size = len(batch)
        self._running -= 1
        self._sizes.remove(size)
        self._lone = size == 1 and not self._queue  # nobody came during a run of one: the next request need not wait for company
        if error is None and any((o.shape if type(o) is np.ndarray else np.shape(o))[:1] != (size,) for o in outputs or ()):
            error = ModelError(f"the model's outputs {[list(np.shape(o)) for o in outputs or ()]} have no batch dimension of {size}")
        if error is not None:
            if not isinstance(error, Exception):
                error = RuntimeError(f"DynamicBatcher: the session run ended with {error!r}")
            for r in batch:
                if not r.future.done():
                    r.future.set_exception(error)
        else:
            assert outputs is not None
            self.policy.observe(size, seconds)
            for i, r in enumerate(batch):
                if not r.future.done():
                    r.future.set_result([out[i] for out in outputs])
        if dispatch:
            self._dispatch(loop, may_inline=True)
        if not self._running and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    async def close(self) -> None:
        """Wait for the runs in progress; requests still queued fail with a clear error. The
        batcher stays usable."""
        while self._queue:
            r = self._queue.popleft()
            if not r.future.done():
                r.future.set_exception(RuntimeError("DynamicBatcher closed before this request ran"))
        while self._running:
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained
