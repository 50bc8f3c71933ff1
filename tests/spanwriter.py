"""Spans with exact timings written into a local store through the real exporter (tests' helper)."""

from __future__ import annotations

import time

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode, set_span_in_context

from agent_otel import semconv
from agent_otel.localstore import open_exporters

MS = 1_000_000
T0 = (time.time_ns() // 10**9 - 7200) * 10**9  # recent: older rows fall to retention


class Writer:
    """Spans with exact timings into a local store, through the real exporter."""

    def __init__(self, path, service="svc"):
        self.exporters = open_exporters(path)
        self.provider = TracerProvider(resource=Resource({"service.name": service}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporters.spans))
        self.tracer = self.provider.get_tracer("test")

    def span(self, kind, name, start_ms, dur_ms, parent=None, error=None, events=(), **attrs):
        """events: (name, offset ms from the span's start, attributes) each."""
        a = {semconv.AGENT_OTEL_KIND: kind, semconv.AGENT_OTEL_NAME: name, **attrs}
        ctx = set_span_in_context(parent) if parent is not None else None
        s = self.tracer.start_span(f"{kind} {name}", context=ctx, attributes=a, start_time=T0 + int(start_ms * MS))
        for ev_name, at_ms, ev_attrs in events:
            s.add_event(ev_name, ev_attrs, timestamp=T0 + int((start_ms + at_ms) * MS))
        if error:
            s.set_attribute(semconv.ERROR_TYPE, error)
            s.set_status(Status(StatusCode.ERROR, error))
        s.end(end_time=T0 + int((start_ms + dur_ms) * MS))
        return s



    def log(self, span, at_ms, severity, body):
        """A log line written inside `span` (as the SDK's logging bridge would)."""
        from agent_otel.localstore.exporters import LOG_COLUMNS

        ctx = span.get_span_context()
        self.exporters.store.write("logs", LOG_COLUMNS, [(T0 + int(at_ms * MS), "svc", severity, body, format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"), "{}")])
