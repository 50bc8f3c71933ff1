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

    def span(self, kind, name, start_ms, dur_ms, parent=None, error=None, **attrs):
        a = {semconv.AGENT_OTEL_KIND: kind, semconv.AGENT_OTEL_NAME: name, **attrs}
        ctx = set_span_in_context(parent) if parent is not None else None
        s = self.tracer.start_span(f"{kind} {name}", context=ctx, attributes=a, start_time=T0 + int(start_ms * MS))
        if error:
            s.set_attribute(semconv.ERROR_TYPE, error)
            s.set_status(Status(StatusCode.ERROR, error))
        s.end(end_time=T0 + int((start_ms + dur_ms) * MS))
        return s


