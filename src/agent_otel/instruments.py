"""The metric instruments the decorators record into, and the buffer that keeps them off the hot path.

Instruments come from the global meter: before a MeterProvider is set they are proxies that
start recording as soon as one is, which is how instrumentation libraries are expected to behave.
Counts and error counts are the histograms' `_count`, split by `error.type`.

One `Histogram.record` in the OpenTelemetry SDK costs about 5 us, a third of a whole span; doing
it in the caller's thread would make a decorated call cost ~1.3-1.9x a hand-written span. So the
decorators append `(instruments, value, attributes)` to a bounded buffer (a deque append,
~0.1 us) and a daemon thread feeds the SDK histograms every 200 ms; `agent_otel.force_flush()`,
`shutdown()` and interpreter exit drain it first. A full buffer drops the measurement and counts
it in `agent_otel.telemetry.dropped{agent_otel.reason="metric_buffer_full"}`.
"""

from __future__ import annotations

import atexit
import collections
import functools
import os
import threading
from typing import Any

from opentelemetry import metrics

from agent_otel import semconv

_meter = metrics.get_meter("agent_otel", "0.1.0")


@functools.cache
def _histogram(name: str) -> Any:
    spec = {
        semconv.METRIC_DURATION: ("s", semconv.DURATION_BUCKETS, "Duration of agent runs, steps, tool, model and inference calls, by agent_otel.kind."),
        semconv.METRIC_OPERATION_DURATION: ("s", semconv.DURATION_BUCKETS, "GenAI operation duration."),
        semconv.METRIC_INVOKE_AGENT_DURATION: ("s", semconv.AGENT_DURATION_BUCKETS, "Duration of an in-process agent invocation."),
        semconv.METRIC_EXECUTE_TOOL_DURATION: ("s", semconv.DURATION_BUCKETS, "Duration of a tool execution."),
        semconv.METRIC_TOKEN_USAGE: ("{token}", semconv.TOKEN_BUCKETS, "Number of input and output tokens used."),
    }[name]
    unit, buckets, description = spec
    return _meter.create_histogram(
        name, unit=unit, description=description, explicit_bucket_boundaries_advisory=list(buckets)
    )


def histograms_for(kind: str) -> tuple[Any, ...]:
    """Duration histograms one call of `kind` records into (the first is always agent_otel.duration)."""
    extra = {
        semconv.KIND_LLM: semconv.METRIC_OPERATION_DURATION,
        semconv.KIND_AGENT: semconv.METRIC_INVOKE_AGENT_DURATION,
        semconv.KIND_TOOL: semconv.METRIC_EXECUTE_TOOL_DURATION,
    }.get(kind)
    names = (semconv.METRIC_DURATION,) + ((extra,) if extra else ())
    return tuple(_histogram(n) for n in names)


def token_usage() -> Any:
    return _histogram(semconv.METRIC_TOKEN_USAGE)


class MeasurementBuffer:
    """Bounded buffer of pending histogram measurements, drained by a daemon thread."""

    def __init__(self, max_pending: int = 100_000, interval_s: float = 0.2) -> None:
        self.max_pending = max_pending
        self.interval_s = interval_s
        self._pending: collections.deque[tuple[tuple[Any, ...], float, Any]] = collections.deque()
        self._thread: threading.Thread | None = None
        self._drain_lock = threading.Lock()
        self._wake = threading.Event()
        self.dropped = 0

    def record(self, histograms: tuple[Any, ...], value: float, attributes: Any) -> None:
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            return
        self._pending.append((histograms, value, attributes))
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._drain_lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="agent-otel-metrics", daemon=True)
            self._thread.start()
            atexit.register(self.drain)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            self.drain()

    def drain(self) -> None:
        """Record everything pending into the SDK histograms now."""
        from agent_otel._guard import report_internal_error

        with self._drain_lock:
            pop = self._pending.popleft
            while True:
                try:
                    histograms, value, attributes = pop()
                except IndexError:
                    break
                try:
                    for histogram in histograms:
                        histogram.record(value, attributes)
                except Exception as exc:  # noqa: BLE001
                    report_internal_error("instruments.drain", exc)
            if self.dropped:
                from agent_otel.sanitize import count_dropped

                count_dropped("metric_buffer_full", self.dropped)
                self.dropped = 0

    def _after_fork(self) -> None:
        self._pending.clear()
        self._thread = None
        self._drain_lock = threading.Lock()


buffer = MeasurementBuffer()
os.register_at_fork(after_in_child=buffer._after_fork)
record = buffer.record
flush = buffer.drain
