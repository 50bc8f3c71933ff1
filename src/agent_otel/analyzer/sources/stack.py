"""The running stack as one source: spans from Jaeger, logs from Loki, resource metrics from Prometheus."""

from __future__ import annotations

import numpy as np

from agent_otel.analyzer.sources.base import ResourceFigures, SourceError, SpanFrame, TraceSpan
from agent_otel.analyzer.sources.detail import TraceDetail
from agent_otel.analyzer.sources.jaeger import Jaeger
from agent_otel.analyzer.sources.loki import Loki
from agent_otel.analyzer.sources.prometheus import Prometheus
from agent_otel.promql import quote, selector


class StackSource:
    name = "stack"

    def __init__(self, *, jaeger: str | None, prometheus: str | None, loki: str | None, headers: dict[str, str] | None = None, timeout_s: float = 10.0) -> None:
        if not jaeger:
            raise SourceError("stack source needs a Jaeger query URL (--jaeger) for traces")
        kw = {"headers": headers, "timeout_s": timeout_s}
        self.jaeger = Jaeger(jaeger, **kw)
        self.prometheus = Prometheus(prometheus, **kw) if prometheus else None
        self.loki = Loki(loki, **kw) if loki else None

    def services(self) -> list[str]:
        return self.jaeger.services()

    def spans(self, start_ns: int, end_ns: int, service: str | None) -> SpanFrame:
        services = [service] if service else [s for s in self.services() if s != "jaeger"]
        rows = []
        for svc in services:
            rows.extend(self.jaeger.find(svc, start_ns, end_ns))
        return SpanFrame.from_rows(rows)

    def trace(self, trace_id: str) -> list[TraceSpan]:
        return self.jaeger.trace(trace_id)

    def trace_detail(self, trace_id: str) -> TraceDetail:
        """Spans from Jaeger; the trace's log lines from Loki (a minute either side of its spans)."""
        spans = self.jaeger.trace_detail(trace_id)
        logs = []
        if spans and self.loki is not None:
            start, end = min(s.start_ns for s in spans), max(s.end_ns for s in spans)
            logs = self.loki.trace_lines(trace_id, start - 60 * 10**9, end + 60 * 10**9)
        return TraceDetail(trace_id, spans, logs)

    def error_logs(self, trace_ids: list[str], start_ns: int, end_ns: int) -> dict[str, str]:
        if self.loki is None:
            return {}
        return self.loki.trace_logs(trace_ids, start_ns, end_ns)

    def resources(self, start_ns: int, end_ns: int, service: str | None) -> ResourceFigures:
        if self.prometheus is None:
            return ResourceFigures()
        rng = f"{max(int((end_ns - start_ns) / 1e9), 1)}s"

        def avg(metric_re: str) -> float | None:
            # per-instant total (CPU is split by cpu_mode), averaged over the window
            sel = selector({"service_name": service}, f"__name__=~{quote(metric_re)}")
            value = self.prometheus.scalar(f"avg_over_time((sum({sel}))[{rng}:15s])", end_ns)
            return None if value is None or np.isnan(value) else value

        return ResourceFigures(
            cpu_utilization=avg("process_cpu_utilization(_ratio)?"),
            memory_rss_bytes=avg("process_memory_usage(_bytes)?"),
            gpu_utilization=avg("hw_gpu_utilization(_ratio)?"),
            gpu_memory_bytes=avg("hw_gpu_memory_usage(_bytes)?"),
        )
