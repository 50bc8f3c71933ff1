"""How soon telemetry leaves the process: the shipped export delays and the root-span flush.

The OpenTelemetry SDK's defaults (a span waits up to 5 s in the batch processor, a log record 1 s,
metrics are read every 60 s) put seconds between a call's end and its trace, log line or metric in
a backend. agent-otel ships shorter delays (docs/sdk.md#how-soon-telemetry-is-visible):

- spans and log records: a batch leaves every `SPAN_DELAY_MS` / `LOG_DELAY_MS` (or as soon as
  512 are queued, as before: under load batches stay full-sized, so the per-span export cost does
  not grow);
- when an agent run's root span ends (no parent, or a remote one), `RootSpanFlusher` wakes its
  own thread to export what is queued at once, so a finished run is visible without waiting for
  the next batch. The caller only sets an event; flushes are at least `min_gap_s` apart, so a
  flood of short root spans still goes out in batches;
- metrics: read and exported every `METRIC_INTERVAL_MS`.

OTEL_BSP_SCHEDULE_DELAY, OTEL_BLRP_SCHEDULE_DELAY and OTEL_METRIC_EXPORT_INTERVAL win when set
(sdk_env.py); AGENT_OTEL_FLUSH_ON_ROOT_END=false turns the root-span flush off. The SDK has no
processor that flushes on a span's end without blocking the caller, hence this small one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

SPAN_DELAY_MS = 100
LOG_DELAY_MS = 100
METRIC_INTERVAL_MS = 1000
ROOT_FLUSH_MIN_GAP_S = SPAN_DELAY_MS / 1000  # at most one extra export per batch delay, however many runs end
ENV_ROOT_FLUSH = "AGENT_OTEL_FLUSH_ON_ROOT_END"

_logger = logging.getLogger("agent_otel")


def root_flush_enabled() -> bool:
    """AGENT_OTEL_FLUSH_ON_ROOT_END: on unless set to false/0/no/off (anything else unknown is warned about)."""
    from agent_otel.sdk_env import env, warn_once

    raw = env(ENV_ROOT_FLUSH)
    if raw is None or raw.lower() in ("true", "1", "yes", "on"):
        return True
    if raw.lower() in ("false", "0", "no", "off"):
        return False
    warn_once(ENV_ROOT_FLUSH, raw, "true | false")
    return True


class RootSpanFlusher(SpanProcessor):
    """Exports what the batch processors hold as soon as a root span ends, from its own thread.

    `flushes` are force_flush callables (the span and log batch processors); each gets
    `timeout_ms`. Root spans ending while a flush runs, or within `min_gap_s` after it, are taken
    by the next flush.
    """

    def __init__(self, flushes: Sequence[Callable[[int], object]], *, min_gap_s: float = ROOT_FLUSH_MIN_GAP_S, timeout_ms: int = 5000) -> None:
        self._flushes = list(flushes)
        self._min_gap_s = min_gap_s
        self._timeout_ms = timeout_ms
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.flushes = 0  # how many flushes ran (tests, benches)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        parent = span.parent
        if parent is not None and not parent.is_remote:
            return
        if self._thread is None or self._pid != os.getpid():
            self._start()
        self._wake.set()

    def _start(self) -> None:
        self._pid = os.getpid()  # after a fork the parent's thread is gone: start one in this process
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agent-otel-root-flush", daemon=True)
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
                    _logger.debug("agent-otel: flush at a root span's end failed", exc_info=True)
            self.flushes += 1
            time.sleep(self._min_gap_s)

    def shutdown(self) -> None:
        self._closed = True
        self._wake.set()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
