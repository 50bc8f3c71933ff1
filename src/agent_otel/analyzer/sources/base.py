"""The one small interface every telemetry source answers: local store, Jaeger, Prometheus, Loki.

Sources hand spans over as columns (`SpanFrame`) so a report over a million spans is numpy work,
not a Python loop per span.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from agent_otel.errors import EmptyWindowError, SourceError  # noqa: F401  (re-exported)


@dataclass
class SpanFrame:
    """Spans of a window, one numpy array per column (all the same length)."""

    kind: np.ndarray
    target: np.ndarray
    service: np.ndarray
    start_ns: np.ndarray
    duration_ms: np.ndarray
    error: np.ndarray
    error_type: np.ndarray
    model: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    trace_id: np.ndarray
    parent_id: np.ndarray
    span_id: np.ndarray | None = None  # where the source gives it: tokens roll up to ancestor agents
    # where the source gives them: cache-read, cache-write (input) and reasoning (output) tokens, priced at their own rates
    cache_read_tokens: np.ndarray | None = None
    cache_write_tokens: np.ndarray | None = None
    reasoning_tokens: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.duration_ms.shape[0])

    @classmethod
    def from_rows(cls, rows: list[tuple]) -> SpanFrame:
        """Rows in column order: kind, target, service, start_ns, duration_ms, error, error_type,
        model, input_tokens, output_tokens, trace_id, parent_id[, span_id[, cache_read, cache_write, reasoning tokens]]."""
        cols = list(zip(*rows)) if rows else [()] * 12

        def obj(i: int) -> np.ndarray:
            return np.array(cols[i], dtype=object)

        def num(i: int, dtype: type) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in cols[i]], dtype=dtype) if cols[i] else np.array([], dtype=dtype)

        return cls(
            kind=obj(0), target=obj(1), service=obj(2),
            start_ns=np.array(cols[3], dtype=np.int64), duration_ms=num(4, np.float64),
            error=np.array(cols[5], dtype=bool), error_type=obj(6), model=obj(7),
            input_tokens=num(8, np.float64), output_tokens=num(9, np.float64),
            trace_id=obj(10), parent_id=obj(11),
            span_id=obj(12) if len(cols) > 12 else None,
            cache_read_tokens=num(13, np.float64) if len(cols) > 15 else None,
            cache_write_tokens=num(14, np.float64) if len(cols) > 15 else None,
            reasoning_tokens=num(15, np.float64) if len(cols) > 15 else None,
        )


@dataclass
class TraceSpan:
    """One span of one trace, as the critical-path analysis needs it."""

    span_id: str
    parent_id: str | None
    name: str
    kind: str
    target: str
    start_ns: int
    end_ns: int
    error: bool = False


@dataclass
class ErrorSample:
    trace_id: str
    message: str


@dataclass
class ResourceFigures:
    """Process/host figures where recorded (None: not recorded in the window)."""

    cpu_utilization: float | None = None
    memory_rss_bytes: float | None = None
    gpu_utilization: float | None = None
    gpu_memory_bytes: float | None = None
    extra: dict[str, float] = field(default_factory=dict)


class Source(Protocol):
    name: str

    def services(self) -> list[str]: ...

    def spans(self, start_ns: int, end_ns: int, service: str | None) -> SpanFrame: ...

    def trace(self, trace_id: str) -> list[TraceSpan]: ...

    def error_logs(self, trace_ids: list[str], start_ns: int, end_ns: int) -> dict[str, str]:
        """The most severe log line of each trace, among logs written in [start_ns, end_ns)."""
        ...

    def resources(self, start_ns: int, end_ns: int, service: str | None) -> ResourceFigures: ...
