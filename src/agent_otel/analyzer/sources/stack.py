"""The running stack as one source: spans from Jaeger, logs from Loki, resource metrics from Prometheus."""

from __future__ import annotations

import numpy as np

from agent_otel.analyzer.sources.base import ResourceFigures, SourceError, SpanFrame, TraceSpan
from agent_otel.analyzer.sources.detail import TraceDetail
from agent_otel import semconv
from agent_otel.analyzer.sources.jaeger import Jaeger, attribute_row, iter_spans
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
        self._listed: tuple[tuple[int, int, str | None], list[tuple]] | None = None  # the last listing's conversation rows

    def services(self) -> list[str]:
        return self.jaeger.services()

    def _services(self, service: str | None) -> list[str]:
        return [service] if service else [s for s in self.services() if s != "jaeger"]

    def spans(self, start_ns: int, end_ns: int, service: str | None) -> SpanFrame:
        rows: list[tuple] = []
        conv: list[tuple] = []  # the conversation rows of the same listing: a report asks for them next

        def keep(svc: str, span: dict, attrs: dict) -> None:
            row = attribute_row(semconv.GEN_AI_CONVERSATION_ID, svc, span, attrs)
            if row is not None:
                conv.append(row)

        for svc in self._services(service):
            rows.extend(self.jaeger.find(svc, start_ns, end_ns, on_span=keep))
        self._listed = ((start_ns, end_ns, service), conv)
        return SpanFrame.from_rows(rows)

    def conversation_rows(self, key: str, start_ns: int, end_ns: int, service: str | None, conversation: str | None = None,
                          recent: int | None = None, max_conversations: int = 20) -> list[tuple]:
        """Rows of the window's spans that carry attribute `key` (the columns of the local store's conversation_rows).

        conversation: that one's traces, found by Jaeger's attribute search (every turn in the window).
        recent: the conversations seen in the `recent` latest traces per service (the push-down report,
        which lists no raw window), each then read whole by that search; at most `max_conversations`.
        Otherwise: from the window's listing (the one spans() just read, else a new one)."""
        if conversation is not None:
            return self._rows_of(key, start_ns, end_ns, service, [conversation])
        if recent is not None:
            seen: dict[str, int] = {}

            def note(_svc: str, span: dict, attrs: dict) -> None:
                if attrs.get(key):
                    seen[str(attrs[key])] = max(seen.get(str(attrs[key]), 0), int(span["startTimeUnixNano"]))

            for svc in self._services(service):
                self.jaeger.find(svc, start_ns, end_ns, limit=recent, on_span=note)
            latest = sorted(seen, key=lambda c: -seen[c])[:max_conversations]
            return self._rows_of(key, start_ns, end_ns, service, latest)
        if key != semconv.GEN_AI_CONVERSATION_ID or self._listed is None or self._listed[0] != (start_ns, end_ns, service):
            self.spans(start_ns, end_ns, service)
        return list(self._listed[1]) if self._listed else []

    def _rows_of(self, key: str, start_ns: int, end_ns: int, service: str | None, values: list[str]) -> list[tuple]:
        out: list[tuple] = []
        for value in values:
            ids: dict[str, None] = {}
            for svc in self._services(service):
                ids.update(dict.fromkeys(self.jaeger.trace_ids_with(svc, key, value, start_ns, end_ns)))
            for tid in ids:
                try:
                    for svc, span, attrs in iter_spans(self.jaeger.trace_payload(tid)):
                        row = attribute_row(key, svc or "", span, attrs)
                        if row is not None and row[0] == value and start_ns <= row[2] < end_ns and (service is None or svc == service):
                            out.append(row)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    raise SourceError(f"jaeger: malformed span in trace {tid} ({type(exc).__name__}: {exc})"[:300]) from None
        return out

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
