"""How soon telemetry leaves the process: the shipped export delays and the early flush.

The OpenTelemetry SDK's defaults (a span waits up to 5 s in the batch processor, a log record 1 s,
metrics are read every 60 s; agent-otel used 10 s) put seconds between a call's end and its trace,
log line or metric in a backend. agent-otel ships shorter delays (docs/latency.md, measured by
bench/bench_freshness.py):

- spans and log records: a batch leaves every `SPAN_DELAY_MS` / `LOG_DELAY_MS`, or as soon as
  512 are queued, as before (at 2,000 spans/s per process no more CPU per span than the SDK's
  defaults; at 200 spans/s ~1.5x, each export being a ~1 ms gRPC call however small: docs/latency.md);
- `EarlyFlusher` wakes its own thread to export what is queued at once (spans and logs) when
  an agent run's root span ends (no parent, or a remote one) and no other root ended in the last
  `min_gap_s`, or when any span ends and no other span ended in the last `min_gap_s` (a tool or
  model call in a quiet moment of a long run). A finished run, or a lone call, is then visible
  without waiting for the next batch. The caller only reads the clock and maybe sets an event.
  A busy process (spans and runs ending closer together) is left to the batch delay, so under
  load the flush adds no exports; where spans end further apart than the delay, the timer would
  have exported each on its own anyway (an empty queue exports nothing), so flushing early costs
  no extra export either;
- metrics: read and exported every `METRIC_INTERVAL_MS`.

An early flush does what the batch processor's own timer does when it fires (`export_now`: one
batch of the oldest items, more only while full batches wait), not `force_flush`, which exports
until the queue is empty: in a burst that follows a quiet moment (a process catching up after
being descheduled) `force_flush` chased the queue with many small exports, each ~1 ms of gRPC,
and the queue overflowed where 512-item batches would have kept up (bench_load.py's drops).

OTEL_BSP_SCHEDULE_DELAY, OTEL_BLRP_SCHEDULE_DELAY and OTEL_METRIC_EXPORT_INTERVAL win when set
(sdk_env.py); AGENT_OTEL_EARLY_FLUSH=false turns the early flush off. The SDK has no
processor that flushes on a span's end without blocking the caller, hence this small one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence

from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

try:  # the SDK's batch processor internals `export_now` drives (checked per processor, see there)
    from opentelemetry.sdk._shared_internal import BatchExportStrategy as _Strategy
except ImportError:  # pragma: no cover - another SDK layout: force_flush
    _Strategy = None  # type: ignore[assignment,misc]

SPAN_DELAY_MS = 100
LOG_DELAY_MS = 100
METRIC_INTERVAL_MS = 1000
EARLY_FLUSH_MIN_GAP_S = SPAN_DELAY_MS / 1000  # spans / runs ending closer together than this are left to the batch delay
ENV_EARLY_FLUSH = "AGENT_OTEL_EARLY_FLUSH"

_logger = logging.getLogger("agent_otel")


def early_flush_enabled() -> bool:
    """AGENT_OTEL_EARLY_FLUSH: on unless set to false/0/no/off (anything else unknown is warned about)."""
    from agent_otel import settings
    from agent_otel.sdk_env import warn_once

    raw = settings.raw(ENV_EARLY_FLUSH)
    if raw is None or raw.lower() in ("true", "1", "yes", "on"):
        return True
    if raw.lower() in ("false", "0", "no", "off"):
        return False
    warn_once(ENV_EARLY_FLUSH, raw, "true | false")
    return True


def export_now(processor: Any) -> Callable[[int], object]:
    """A flush of a BatchSpanProcessor / BatchLogRecordProcessor that does what its timer does when it fires.

    One export of up to a batch of the oldest items (more only while full batches wait), from the
    caller's thread; nothing when the queue is empty, or when it already holds a full batch (the
    processor's own thread was woken for that one). Falls back to `force_flush` when the SDK's
    batch processor does not have the expected shape (another SDK version).
    """
    batch = getattr(processor, "_batch_processor", None)
    export = getattr(batch, "_export", None)
    queue = getattr(batch, "_queue", None)
    size = getattr(batch, "_max_export_batch_size", None)
    strategy = getattr(_Strategy, "EXPORT_AT_LEAST_ONE_BATCH", None)
    if not callable(export) or queue is None or not isinstance(size, int) or strategy is None:
        return processor.force_flush

    def flush(timeout_ms: int) -> object:
        waiting = len(queue)
        if waiting == 0 or waiting >= size:
            return True
        export(strategy)
        return True

    return flush


class EarlyFlusher(SpanProcessor):
    """Exports what the batch processors hold, from its own thread, when a run ends or a span ends alone.

    `flushes` are flush callables (`export_now` of the span and log batch processors); each gets
    `timeout_ms`. A root span that ends within `min_gap_s` of the previous root, and a span that
    ends within `min_gap_s` of the previous span, flush nothing (the batch processors export them
    within their delay); flushes are at least `min_gap_s` apart.
    """

    def __init__(self, flushes: Sequence[Callable[[int], object]], *, min_gap_s: float = EARLY_FLUSH_MIN_GAP_S, timeout_ms: int = 5000) -> None:
        self._flushes = list(flushes)
        self._min_gap_s = min_gap_s
        self._timeout_ms = timeout_ms
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._last_root = self._last_span = float("-inf")
        self.flushes = 0  # how many flushes ran (tests, benches)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        now = time.monotonic()
        quiet = now - self._last_span >= self._min_gap_s
        self._last_span = now
        parent = span.parent
        if parent is None or parent.is_remote:  # an agent run (or this service's part of a trace) ended
            quiet = quiet or now - self._last_root >= self._min_gap_s
            self._last_root = now
        if not quiet:
            return
        try:
            if self._thread is None or self._pid != os.getpid():
                self._start()
            self._wake.set()
        except RuntimeError:  # no new thread at interpreter exit (3.12+): shutdown() flushes then
            pass

    def _start(self) -> None:
        self._pid = os.getpid()  # after a fork the parent's thread is gone: start one in this process
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agent-otel-early-flush", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        wake = self._wake
        while True:
            wake.wait()
            if self._closed:
                return
            wake.clear()
            for flush in self._flushes:
                try:
                    flush(self._timeout_ms)
                except Exception:  # noqa: BLE001 - never into the app; the exporters count their own failures
                    _logger.debug("agent-otel: early flush failed", exc_info=True)
            self.flushes += 1
            time.sleep(self._min_gap_s)

    def shutdown(self) -> None:
        self._closed = True
        self._wake.set()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
