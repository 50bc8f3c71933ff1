"""Exporter wrappers that apply the redaction policy to every span, log record and metric point.

`configure()` puts one in front of each exporter it builds (OTLP, local store, console), so
whatever any instrumentation in the process recorded is redacted before an exporter sees it:
span names, attribute values, event names and attributes (exception messages and stack
traces), link attributes, status descriptions, resource attributes; log bodies and attributes;
metric data point attributes. The work happens in the batch processors' export threads, not in
the calls being traced. A span or record that cannot be redacted is dropped and counted
(`agent_otel.telemetry.dropped`, reason `redaction_failed`), never exported as it was.

Apps that build their own providers can wrap their exporters the same way:
`RedactingSpanExporter(OTLPSpanExporter(), redaction.active())`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import Link, Status

from agent_otel import redaction
from agent_otel._guard import report_internal_error
from agent_otel.sanitize import count_dropped


def _policy(policy: redaction.Policy | None) -> redaction.Policy:
    return policy if policy is not None else redaction.active()


def _bounded(old: Any, new: dict[str, Any]) -> BoundedAttributes:
    out = BoundedAttributes(attributes=new, immutable=True)
    out.dropped = getattr(old, "dropped", 0)
    return out


class _Resources:
    """Redacted resources, remembered: a provider has one resource, so this is done once."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[Resource, Resource]] = {}

    def get(self, resource: Resource | None, policy: redaction.Policy) -> Resource | None:
        if resource is None:
            return None
        hit = self._seen.get(id(resource))
        if hit is not None and hit[0] is resource:
            return hit[1]
        attrs = policy.redact_attributes(resource.attributes)
        out = resource if attrs is None else Resource(attrs, resource.schema_url)
        if len(self._seen) < 64:
            self._seen[id(resource)] = (resource, out)
        return out


def redact_span(span: ReadableSpan, policy: redaction.Policy, resources: _Resources | None = None) -> ReadableSpan:
    """`span` itself when nothing in it matched, else a redacted copy."""
    name = policy.redact(span.name)
    attrs = policy.redact_attributes(span.attributes)
    events, events_changed = [], False
    for ev in span.events:
        ev_name, ev_attrs = policy.redact(ev.name), policy.redact_attributes(ev.attributes)
        if ev_name is not ev.name or ev_attrs is not None:
            events_changed = True
            ev = Event(ev_name, _bounded(ev.attributes, ev_attrs) if ev_attrs is not None else ev.attributes, ev.timestamp)
        events.append(ev)
    links, links_changed = [], False
    for link in span.links:
        link_attrs = policy.redact_attributes(link.attributes)
        if link_attrs is not None:
            links_changed = True
            link = Link(link.context, _bounded(link.attributes, link_attrs))
        links.append(link)
    status = span.status
    if status.description:
        description = policy.redact(status.description)
        if description is not status.description:
            status = Status(status.status_code, description)
    resource = (resources or _Resources()).get(span.resource, policy)
    if name is span.name and attrs is None and not events_changed and not links_changed and status is span.status and resource is span.resource:
        return span
    copy = ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=resource,
        attributes=_bounded(span.attributes, attrs) if attrs is not None else span.attributes,
        events=events if events_changed else span.events,
        links=links if links_changed else span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
    return copy


class _RedactingBatches:
    """What the span and log wrappers share: redact each item, drop (and count) one that fails."""

    where = ""

    def __init__(self, exporter: Any, policy: redaction.Policy | None = None) -> None:
        self.exporter = exporter
        self._policy = policy
        self._resources = _Resources()

    def _redact_item(self, item: Any, policy: redaction.Policy) -> Any:
        raise NotImplementedError

    def export(self, batch: Sequence[Any]) -> Any:
        policy, out = _policy(self._policy), []
        for item in batch:
            try:
                out.append(self._redact_item(item, policy))
            except Exception as exc:  # noqa: BLE001 - dropped and counted, never exported unredacted
                report_internal_error(self.where, exc)
                count_dropped("redaction_failed")
        return self.exporter.export(out)

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


class RedactingSpanExporter(_RedactingBatches, SpanExporter):
    where = "redaction.spans"

    def _redact_item(self, item: ReadableSpan, policy: redaction.Policy) -> ReadableSpan:
        return redact_span(item, policy, self._resources)


def _redact_log(item: Any, policy: redaction.Policy, resources: _Resources) -> Any:
    """Redact a log record in place (body, attributes); a new wrapper only if the resource changed."""
    record = getattr(item, "log_record", item)
    body = record.body
    if body is not None:
        new_body = policy.redact_value(body)
        if new_body is not body:
            record.body = new_body
    attrs = policy.redact_attributes(record.attributes)
    if attrs is not None:
        record.attributes = _bounded(record.attributes, attrs)
    resource = getattr(item, "resource", None)
    new_resource = resources.get(resource, policy)
    if new_resource is not resource and dataclasses.is_dataclass(item):
        item = dataclasses.replace(item, resource=new_resource)
    return item


class RedactingLogExporter(_RedactingBatches, LogRecordExporter):
    where = "redaction.logs"

    def _redact_item(self, item: Any, policy: redaction.Policy) -> Any:
        return _redact_log(item, policy, self._resources)


class RedactingMetricExporter(MetricExporter):
    """Metric data point attributes redacted; the data is rebuilt only where something matched."""

    def __init__(self, exporter: MetricExporter, policy: redaction.Policy | None = None) -> None:
        super().__init__(
            preferred_temporality=getattr(exporter, "_preferred_temporality", None),
            preferred_aggregation=getattr(exporter, "_preferred_aggregation", None),
        )
        self.exporter = exporter
        self._policy = policy
        self._resources = _Resources()

    def _points(self, points: Sequence[Any], policy: redaction.Policy) -> list[Any] | None:
        out, changed = [], False
        for p in points:
            attrs = policy.redact_attributes(p.attributes)
            if attrs is not None:
                changed = True
                p = dataclasses.replace(p, attributes=attrs)
            out.append(p)
        return out if changed else None

    def _redact(self, data: MetricsData, policy: redaction.Policy) -> MetricsData:
        resource_metrics, changed = [], False
        for rm in data.resource_metrics:
            scopes, rm_changed = [], False
            for sm in rm.scope_metrics:
                metrics, sm_changed = [], False
                for m in sm.metrics:
                    points = self._points(m.data.data_points, policy)
                    if points is not None:
                        sm_changed = True
                        m = dataclasses.replace(m, data=dataclasses.replace(m.data, data_points=points))
                    metrics.append(m)
                if sm_changed:
                    rm_changed = True
                    sm = dataclasses.replace(sm, metrics=metrics)
                scopes.append(sm)
            resource = self._resources.get(rm.resource, policy)
            if rm_changed or resource is not rm.resource:
                changed = True
                rm = dataclasses.replace(rm, scope_metrics=scopes, resource=resource)
            resource_metrics.append(rm)
        return dataclasses.replace(data, resource_metrics=resource_metrics) if changed else data

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        try:
            metrics_data = self._redact(metrics_data, _policy(self._policy))
        except Exception as exc:  # noqa: BLE001 - the batch is not exported unredacted
            report_internal_error("redaction.metrics", exc)
            count_dropped("redaction_failed")
            return MetricExportResult.FAILURE
        return self.exporter.export(metrics_data, timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.exporter.shutdown(timeout_millis=timeout_millis, **kwargs)


def wrap(span_exporter: Any, metric_exporter: Any, log_exporter: Any, policy: redaction.Policy | None = None) -> tuple[Any, Any, Any]:
    """The three exporters `configure()` built, each behind its redacting wrapper (None stays None)."""
    return (
        RedactingSpanExporter(span_exporter, policy) if span_exporter is not None else None,
        RedactingMetricExporter(metric_exporter, policy) if metric_exporter is not None else None,
        RedactingLogExporter(log_exporter, policy) if log_exporter is not None else None,
    )
