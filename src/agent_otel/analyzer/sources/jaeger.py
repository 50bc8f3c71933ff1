"""Jaeger v2 query API (`/api/v3`, OTLP-shaped JSON) as a span source."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from agent_otel import semconv
from agent_otel.analyzer.sources.base import SourceError, TraceSpan
from agent_otel.analyzer.sources.detail import SpanDetail, SpanEvent
from agent_otel.analyzer.sources.http import Backend
from agent_otel.span_fields import span_fields

MAX_TRACES = 5000


def _hex(value: str | None, size: int) -> str | None:
    if not value:
        return None
    if len(value) == size * 2:
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise SourceError(f"jaeger: span id {value[:40]!r} is neither hex nor base64 of {size} bytes")
    return raw.hex()


def _attr_value(v: dict[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        return int(v["intValue"])
    return None


def rfc3339(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).isoformat().replace("+00:00", "Z")


def iter_spans(payload: Any) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(service, span, attributes) for every span of an OTLP-JSON answer."""
    if payload is None:
        return
    if not isinstance(payload, dict):
        raise SourceError("jaeger: answer is not a JSON object")
    result = payload.get("result", payload)
    for rs in result.get("resourceSpans") or []:
        res = {a["key"]: _attr_value(a.get("value", {})) for a in (rs.get("resource") or {}).get("attributes", [])}
        service = res.get("service.name")
        for ss in rs.get("scopeSpans") or []:
            for span in ss.get("spans") or []:
                attrs = {a["key"]: _attr_value(a.get("value", {})) for a in span.get("attributes", [])}
                yield service, span, attrs


def span_row(service: str, span: dict[str, Any], a: dict[str, Any]) -> tuple:
    start, end = int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])
    code = (span.get("status") or {}).get("code")
    error = code in (2, "STATUS_CODE_ERROR")
    f = span_fields(span.get("name"), a, error, (span.get("status") or {}).get("message"))
    return (
        f.kind, f.target, service, start, (end - start) / 1e6, error, f.error_type, f.model, f.input_tokens, f.output_tokens,
        _hex(span["traceId"], 16),
        _hex(span.get("parentSpanId"), 8),
        _hex(span.get("spanId"), 8),
        a.get(semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
        a.get(semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, a.get(semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)),
        a.get(semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
    )


def attribute_row(key: str, service: str, span: dict[str, Any], a: dict[str, Any]) -> tuple | None:
    """(value of attribute `key`, trace_id, start_ns, end_ns, error, model, input_tokens, output_tokens) of a span
    carrying `key` — the columns the local store's conversation_rows gives — else None."""
    if not a.get(key):
        return None
    row = span_row(service, span, a)
    return (a[key], row[10], row[3], int(span["endTimeUnixNano"]), row[5], row[7], row[8], row[9])


class Jaeger:
    def __init__(self, url: str, **kw: Any) -> None:
        self.api = Backend("jaeger", url, **kw)

    def services(self) -> list[str]:
        data = self.api.get_json("/api/v3/services") or {}
        return sorted(data.get("services") or [])

    def find(self, service: str, start_ns: int, end_ns: int, limit: int = MAX_TRACES, *, min_duration_ms: float | None = None,
             on_span: Callable[[str, dict[str, Any], dict[str, Any]], None] | None = None) -> list[tuple]:
        """Span rows of the traces that started in the window; `on_span(service, span, attributes)` sees each span read."""
        params: dict[str, Any] = {
            "query.service_name": service,
            "query.start_time_min": rfc3339(start_ns),
            "query.start_time_max": rfc3339(end_ns),
            "query.num_traces": limit,
        }
        if min_duration_ms is not None:
            params["query.duration_min"] = f"{max(min_duration_ms, 0):.3f}ms"
        data = self.api.get_json("/api/v3/traces", params, none_on_404=True)
        try:
            rows = []
            for svc, s, a in iter_spans(data):
                if start_ns <= int(s["startTimeUnixNano"]) < end_ns:
                    rows.append(span_row(svc or service, s, a))
                    if on_span is not None:
                        on_span(svc or service, s, a)
            return rows
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SourceError(f"jaeger: malformed span in the answer for {service!r} ({type(exc).__name__}: {exc})"[:300]) from None

    def trace_ids_with(self, service: str, key: str, value: str, start_ns: int, end_ns: int, limit: int = MAX_TRACES) -> list[str]:
        """Ids of the service's traces in the window with a span whose attribute `key` is `value`: Jaeger's
        attribute search (its `/api/traces` `tags`; the v3 HTTP API takes no attributes)."""
        import json

        data = self.api.get_json("/api/traces", {"service": service, "tags": json.dumps({key: value}), "start": start_ns // 1000,
                                                 "end": end_ns // 1000 + 1, "limit": limit}, none_on_404=True) or {}
        try:
            return [_hex(t["traceID"].rjust(32, "0"), 16) or "" for t in data.get("data") or []]
        except (KeyError, TypeError, AttributeError) as exc:
            raise SourceError(f"jaeger: malformed answer to the search for {key}={value!r} ({type(exc).__name__})") from None

    def trace_payload(self, trace_id: str) -> Any:
        """One trace as the v3 API gives it (OTLP JSON; None when unknown): for iter_spans."""
        return self.api.get_json(f"/api/v3/traces/{trace_id}", none_on_404=True)

    def trace(self, trace_id: str) -> list[TraceSpan]:
        data = self.api.get_json(f"/api/v3/traces/{trace_id}", none_on_404=True)
        try:
            return self._trace_spans(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SourceError(f"jaeger: malformed span in trace {trace_id} ({type(exc).__name__}: {exc})"[:300]) from None

    def trace_detail(self, trace_id: str) -> list[SpanDetail]:
        """Every span of the trace with attributes, events and OTel span kind."""
        data = self.api.get_json(f"/api/v3/traces/{trace_id}", none_on_404=True)
        try:
            return [_detail(svc, s, a) for svc, s, a in iter_spans(data)]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SourceError(f"jaeger: malformed span in trace {trace_id} ({type(exc).__name__}: {exc})"[:300]) from None

    @staticmethod
    def _trace_spans(data: Any) -> list[TraceSpan]:
        out = []
        for _svc, s, a in iter_spans(data):
            code = (s.get("status") or {}).get("code")
            out.append(
                TraceSpan(
                    _hex(s["spanId"], 8) or "", _hex(s.get("parentSpanId"), 8), s.get("name", ""),
                    *span_fields(s.get("name", ""), a, False, None)[:2],
                    int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"]), code in (2, "STATUS_CODE_ERROR"),
                )
            )
        return out


def _detail(service: str | None, s: dict[str, Any], a: dict[str, Any]) -> SpanDetail:
    row = span_row(service or "", s, a)
    kind = s.get("kind")
    events = [
        SpanEvent(int(e.get("timeUnixNano") or 0), e.get("name", ""), {x["key"]: _attr_value(x.get("value", {})) for x in e.get("attributes") or []})
        for e in s.get("events") or []
    ]
    return SpanDetail(
        row[12] or "", row[11], s.get("name", ""), service, row[0], row[1], row[3], int(s["endTimeUnixNano"]), row[5], row[6], row[7],
        row[8], row[9], a, events, str(kind).removeprefix("SPAN_KIND_") if isinstance(kind, str) else _KINDS.get(kind),
    )


_KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
