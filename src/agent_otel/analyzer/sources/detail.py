"""One trace in full, as the trace view needs it: every span with its attributes and events, and
the log lines written inside the trace. Each source (local store, Jaeger + Loki) fills these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SpanEvent:
    ts_ns: int
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class LogLine:
    ts_ns: int
    severity: str | None
    body: str
    span_id: str | None = None
    service: str | None = None


@dataclass
class SpanDetail:
    span_id: str
    parent_id: str | None
    name: str
    service: str | None
    kind: str
    target: str
    start_ns: int
    end_ns: int
    error: bool = False
    error_type: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    span_kind: str | None = None  # OTel SpanKind (CLIENT, INTERNAL...) where the source keeps it


@dataclass
class TraceDetail:
    trace_id: str
    spans: list[SpanDetail]
    logs: list[LogLine]
