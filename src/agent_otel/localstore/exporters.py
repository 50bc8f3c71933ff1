"""OpenTelemetry exporters that write into the local store (`configure(exporter="local")`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from agent_otel.localstore.store import Store
from agent_otel.span_fields import span_fields

_logger = logging.getLogger("agent_otel.localstore")

SPAN_COLUMNS = (
    "trace_id", "span_id", "parent_id", "service", "name", "kind", "target", "start_ns", "end_ns",
    "duration_ms", "error", "error_type", "model", "provider", "input_tokens", "output_tokens", "attributes",
)
METRIC_COLUMNS = ("ts_ns", "service", "name", "unit", "attributes", "value", "count", "sum")
EVENT_COLUMNS = ("trace_id", "span_id", "ts_ns", "name", "attributes")
LOG_COLUMNS = ("ts_ns", "service", "severity", "body", "trace_id", "span_id", "attributes")


_ENCODE = json.JSONEncoder(default=str, ensure_ascii=False).encode  # json.dumps with arguments builds an encoder per call


def _json(attrs: Any) -> str:
    return _ENCODE(dict(attrs or {}))


_SERVICES: dict[int, tuple[Any, Any]] = {}  # id(resource) -> (resource, service.name): a process has one or a few


def _service(resource: Any) -> Any:
    if resource is None:
        return None
    hit = _SERVICES.get(id(resource))
    if hit is not None and hit[0] is resource:
        return hit[1]
    value = resource.attributes.get("service.name")
    if len(_SERVICES) < 64:
        _SERVICES[id(resource)] = (resource, value)
    return value


def span_row(span: ReadableSpan) -> tuple[object, ...]:
    a = dict(span.attributes or ())  # one copy: the SDK's BoundedAttributes answers each .get through a lock
    service = _service(span.resource)
    error = span.status.status_code == StatusCode.ERROR
    start, end = span.start_time or 0, span.end_time or span.start_time or 0
    f = span_fields(span.name, a, error, span.status.description)
    ctx = span.context
    return (
        format(ctx.trace_id, "032x"),
        format(ctx.span_id, "016x"),
        format(span.parent.span_id, "016x") if span.parent else None,
        service, span.name, f.kind, f.target, start, end, (end - start) / 1e6, int(error),
        f.error_type, f.model, f.provider, f.input_tokens, f.output_tokens, _ENCODE(a),
    )


def event_rows(span: ReadableSpan) -> list[tuple[object, ...]]:
    """Span events (exceptions, retries...) for the trace view."""
    events = span.events
    if not events:
        return []
    trace_id, span_id = format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")
    return [(trace_id, span_id, e.timestamp, e.name, _json(e.attributes)) for e in events]


def _write(store: Store, what: str, batches: list[tuple[str, tuple[str, ...], list[tuple[object, ...]]]]) -> bool:
    """Write each (table, columns, rows); False (the SDK counts a failed export) with one warning."""
    try:
        store.write_many(batches)  # one transaction (span rows are summarised in it: localstore.summaries)
        return True
    except Exception:  # noqa: BLE001 - counted by the SDK as a failed export
        _logger.warning("local store: could not write %s", what, exc_info=True)
        return False


class LocalSpanExporter(SpanExporter):
    def __init__(self, store: Store) -> None:
        self._store = store

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = _write(self._store, f"{len(spans)} spans", [("spans", SPAN_COLUMNS, [span_row(s) for s in spans]),
                                                          ("span_events", EVENT_COLUMNS, [e for s in spans for e in event_rows(s)])])
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        try:
            self._store.flush_summaries()
        except Exception:  # noqa: BLE001 - the spans are stored; reports read the unsummarised ones raw
            _logger.warning("local store: could not summarise the last spans", exc_info=True)


class LocalMetricExporter(MetricExporter):
    """Stores every data point; histograms as count and sum, the rest as their value."""

    def __init__(self, store: Store) -> None:
        super().__init__(preferred_temporality={}, preferred_aggregation={})
        self._store = store

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        rows = []
        for rm in metrics_data.resource_metrics:
            service = rm.resource.attributes.get("service.name")
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for p in metric.data.data_points:
                        if isinstance(p, HistogramDataPoint):
                            rows.append((p.time_unix_nano, service, metric.name, metric.unit, _json(p.attributes), None, p.count, p.sum))
                        else:
                            value = getattr(p, "value", None)
                            rows.append((p.time_unix_nano, service, metric.name, metric.unit, _json(p.attributes), value, None, None))
        ok = _write(self._store, f"{len(rows)} metric points", [("metric_points", METRIC_COLUMNS, rows)])
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def _with_event_name(record: Any) -> Any:
    """A record's attributes, plus its event name (e.g. gen_ai.evaluation.result) as `event.name`: the table has no column for it."""
    name = getattr(record, "event_name", None)
    if not name:
        return record.attributes
    return {**dict(record.attributes or {}), "event.name": name}


class LocalLogExporter(LogRecordExporter):
    def __init__(self, store: Store) -> None:
        self._store = store

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        rows = []
        for item in batch:
            record = getattr(item, "log_record", item)
            resource = getattr(item, "resource", None) or getattr(record, "resource", None)
            service = resource.attributes.get("service.name") if resource else None
            rows.append(
                (
                    record.timestamp or record.observed_timestamp or 0,
                    service,
                    record.severity_text,
                    str(record.body),
                    format(record.trace_id, "032x") if record.trace_id else None,
                    format(record.span_id, "016x") if record.span_id else None,
                    _json(_with_event_name(record)),
                )
            )
        ok = _write(self._store, f"{len(rows)} log records", [("logs", LOG_COLUMNS, rows)])
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        pass
