"""`DynamicBatcher`: concurrent async callers share one session run.

    batcher = DynamicBatcher(session, max_batch_size=32, max_wait_ms=2)
    probs = await batcher.submit({"features": x})      # x: one sample, without the batch dimension

Requests are validated one by one before they join a batch (a bad input fails only its caller).
While one batch runs, new requests queue up and form the next; a batch is dispatched when it is
full, when no more requests are queued (a lone caller does not wait), or when its oldest request
waited `max_wait_ms`. The run happens
in a worker thread so the event loop keeps accepting requests; each caller gets its own slice of
the outputs, or the batch's exception.
"""

from __future__ import annotations

import asyncio
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


class DynamicBatcher:
    def __init__(self, session: Any, *, max_batch_size: int = 32, max_wait_ms: float = 2.0, attributes: dict[str, Any] | None = None) -> None:
        if max_batch_size < 1 or max_wait_ms < 0:
            raise ValueError(f"DynamicBatcher: max_batch_size must be >= 1 and max_wait_ms >= 0, got {max_batch_size}, {max_wait_ms}")
        self.session = session
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000
        self.attributes = attributes or {}
        self._inputs = {i.name: i for i in session.get_inputs()}
        self._queue: asyncio.Queue[_Request] | None = None
        self._worker: asyncio.Task[None] | None = None

    def _validate(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if set(feed) != set(self._inputs):
            raise ModelError(f"inputs {sorted(feed)} do not match the model's {sorted(self._inputs)}")
        out = {}
        for name, value in feed.items():
            arr = np.asarray(value)
            declared = self._inputs[name].shape[1:]
            if arr.ndim != len(declared) or any(isinstance(d, int) and d != v for d, v in zip(declared, arr.shape)):
                raise ModelError(f"input {name!r}: one sample must have shape {declared}, got {list(arr.shape)}")
            out[name] = arr
        return out

    async def submit(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Outputs for this one sample (batch dimension removed)."""
        request = _Request(self._validate(feed), asyncio.get_running_loop().create_future())
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())
        await self._queue.put(request)
        return await request.future

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = batch[0].enqueued + self.max_wait_s
            while len(batch) < self.max_batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                    continue
                except asyncio.QueueEmpty:
                    pass
                # Nothing queued: give callers that are about to submit one turn of the loop; a
                # lone caller is not kept waiting for company that is not coming.
                await asyncio.sleep(0)
                if self._queue.empty() and (len(batch) == 1 or time.perf_counter() >= deadline):
                    break
                if self._queue.empty():
                    await asyncio.sleep(min(0.0005, max(deadline - time.perf_counter(), 0)))
                    if self._queue.empty():
                        break
            await self._execute(loop, batch)

    async def _execute(self, loop: asyncio.AbstractEventLoop, batch: list[_Request]) -> None:
        now = time.perf_counter()
        queue_time = instrument("agent_otel.batcher.queue_time")
        for r in batch:
            queue_time.record(now - r.enqueued, self.attributes)
        instrument("agent_otel.batcher.batch_size").record(len(batch), self.attributes)
        feed = {name: np.stack([r.feed[name] for r in batch]) for name in self._inputs}
        try:
            outputs = await loop.run_in_executor(None, self.session.run, None, feed)
        except Exception as exc:  # noqa: BLE001 - the run failed: every caller of this batch gets it
            for r in batch:
                if not r.future.done():
                    r.future.set_exception(exc)
            return
        for i, r in enumerate(batch):
            if not r.future.done():
                r.future.set_result([out[i] for out in outputs])

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
