"""The metric instruments agent-otel records into, and the buffer that keeps recording off the hot path.

`Instruments(meter)` creates every histogram with the conventions' name, unit and advisory bucket
boundaries from one meter (so each recorder's meter provider gets its own). The buffer is
process-wide.

One `Histogram.record` in the OpenTelemetry SDK costs about 5-8 us, a third of a whole span; two
per call, in the caller's thread or any other (CPU of all threads is what an app pays), would make
a decorated call cost ~1.3-1.9x a hand-written span. So the decorators append `(value, histogram,
attributes, histogram, attributes)` to a bounded buffer (a deque append, ~0.1 us), and the drain
(a daemon thread every 200 ms, and every collection) merges each batch into the SDK's aggregations
once per histogram and attribute set (`histogram_merge.record_many`: ~0.5 us a value). Each
`Instruments` also registers an observable instrument whose callback drains the buffer, and the
SDK runs observable callbacks before it collects the synchronous instruments: so every metric
reader (a PeriodicExportingMetricReader, a test's InMemoryMetricReader) sees every measurement
made before its collection, with no flush call. A full buffer drops the measurement and counts it
in `agent_otel.telemetry.dropped{agent_otel.reason="metric_buffer_full"}`.
"""

from __future__ import annotations

import atexit
import collections
import os
import threading
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from agent_otel import semconv
from agent_otel.histogram_merge import record_many


class Instruments:
    """Every histogram agent-otel records, created from one meter."""

    def __init__(self, meter: Meter, *, latest: bool = False) -> None:
        def hist(name: str, unit: str, buckets: Iterable[float], description: str) -> Any:
            return meter.create_histogram(name, unit=unit, description=description, explicit_bucket_boundaries_advisory=list(buckets))

        s = semconv
        self.duration = hist(s.METRIC_DURATION, "s", s.DURATION_BUCKETS, "Duration of agent runs, steps, tool, model and inference calls, by agent_otel.kind.")
        self.operation_duration = hist(s.METRIC_OPERATION_DURATION, "s", s.DURATION_BUCKETS, "GenAI operation duration.")
        self.token_usage = hist(s.METRIC_TOKEN_USAGE, "{token}", s.TOKEN_BUCKETS, "Number of input and output tokens used.")
        self.time_to_first_chunk = hist(s.METRIC_TIME_TO_FIRST_CHUNK, "s", s.DURATION_BUCKETS, "Time to receive the first chunk of a streamed response.")
        self.time_per_output_chunk = hist(s.METRIC_TIME_PER_OUTPUT_CHUNK, "s", s.DURATION_BUCKETS, "Time per output chunk after the first one.")
        self.invoke_agent_duration = hist(s.METRIC_INVOKE_AGENT_DURATION, "s", s.AGENT_DURATION_BUCKETS, "Duration of an in-process agent invocation.")
        self.execute_tool_duration = hist(s.METRIC_EXECUTE_TOOL_DURATION, "s", s.DURATION_BUCKETS, "Duration of a tool execution.")
        workflow = s.METRIC_WORKFLOW_DURATION_LATEST if latest else s.METRIC_WORKFLOW_DURATION_DEFAULT
        workflow_buckets = s.DURATION_BUCKETS if latest else s.WORKFLOW_DURATION_BUCKETS
        self.workflow_duration = hist(workflow, "s", workflow_buckets, "GenAI workflow duration.")
        self.by_kind: dict[str, Any] = {
            s.KIND_LLM: self.operation_duration,
            s.KIND_AGENT: self.invoke_agent_duration,
            s.KIND_TOOL: self.execute_tool_duration,
            s.KIND_WORKFLOW: self.workflow_duration,
        }
        # Drains the buffer at each collection; observes nothing itself.
        meter.create_observable_gauge("agent_otel.metric_buffer.drain", callbacks=[_drain_at_collect], unit="{measurement}")


def _drain_at_collect(options: CallbackOptions) -> list[Observation]:
    buffer.drain()
    return []


def _by_content(groups: Iterable[tuple[Any, Any, list[float]]]) -> Iterable[tuple[Any, Any, list[float]]]:
    """Join groups whose attribute dicts are distinct objects with equal content (e.g. one built per call)."""
    merged: dict[Any, tuple[Any, Any, list[float]]] = {}
    for histogram, attributes, values in groups:
        try:
            key: Any = (id(histogram), frozenset((k, v.__class__, v) for k, v in attributes.items()) if attributes else None)
            hash(key)
        except TypeError:  # an unhashable attribute value: keep the group as it is
            key = (id(histogram), id(attributes))
        hit = merged.get(key)
        if hit is None:
            merged[key] = (histogram, attributes, values)
        else:
            hit[2].extend(values)
    return merged.values()


class MeasurementBuffer:
    """Bounded buffer of pending histogram measurements, drained by a daemon thread and at collection."""

    def __init__(self, max_pending: int = 100_000, interval_s: float = 0.2) -> None:
        self.max_pending = max_pending
        self.interval_s = interval_s
        self._pending: collections.deque[tuple[float, Any, Any, Any, Any]] = collections.deque()
        self._thread: threading.Thread | None = None
        self._drain_lock = threading.RLock()
        self._wake = threading.Event()
        self.dropped = 0

    def record(self, value: float, histogram: Any, attributes: Any, histogram2: Any = None, attributes2: Any = None) -> None:
        """Queue `value` for one histogram (and optionally a second one with its own attributes)."""
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            return
        self._pending.append((value, histogram, attributes, histogram2, attributes2))
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
        """Record everything pending into the SDK histograms now: one merge per histogram and attribute set."""
        from agent_otel._guard import report_internal_error

        with self._drain_lock:
            pending = self._pending
            pop = pending.popleft
            groups: dict[tuple[int, int], tuple[Any, Any, list[float]]] = {}
            get = groups.get
            # Attribute dicts are the decoration's own (one object per decorated function), so
            # grouping by identity merges every call of a function without hashing its attributes.
            for _ in range(len(pending)):
                value, h1, a1, h2, a2 = pop()
                g = get((id(h1), id(a1)))
                if g is None:
                    g = groups[(id(h1), id(a1))] = (h1, a1, [])
                g[2].append(value)
                if h2 is not None:
                    g = get((id(h2), id(a2)))
                    if g is None:
                        g = groups[(id(h2), id(a2))] = (h2, a2, [])
                    g[2].append(value)
            for histogram, attributes, values in _by_content(groups.values()):
                try:
                    record_many(histogram, attributes, values)
                except Exception as exc:  # noqa: BLE001
                    report_internal_error("instruments.drain", exc)
            if self.dropped:
                from agent_otel.sanitize import count_dropped

                count_dropped("metric_buffer_full", self.dropped)
                self.dropped = 0

    def _after_fork(self) -> None:
        self._pending.clear()
        self._thread = None
        self._drain_lock = threading.RLock()


buffer = MeasurementBuffer()
os.register_at_fork(after_in_child=buffer._after_fork)
record = buffer.record
flush = buffer.drain
