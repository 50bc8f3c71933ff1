"""One trace as a waterfall: the span tree in start order, each span's offset and duration on the
trace's time axis, its self time and its share of the critical path, attributes, events, captured
content and the log lines written inside it. The terminal and HTML views both draw this dict, and
the report embeds it for its slowest and failing traces."""

from __future__ import annotations

import re
from typing import Any

from agent_otel import semconv
from agent_otel.analyzer.critical_path import critical_path, self_times
from agent_otel.analyzer.sources.base import SourceError, TraceSpan
from agent_otel.analyzer.sources.detail import SpanDetail, TraceDetail

MAX_SPANS = 1000  # a view of more spans is cut (and says so): nobody reads a 10,000-row waterfall
MAX_VALUE = 2000  # characters of one attribute value shown
CONTENT_KEYS = (
    semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES, semconv.GEN_AI_TOOL_CALL_ARGUMENTS,
    semconv.GEN_AI_TOOL_CALL_RESULT, semconv.AGENT_OTEL_ARGS, semconv.AGENT_OTEL_RESULT,
)
_SHOWN_ELSEWHERE = {semconv.AGENT_OTEL_KIND, semconv.AGENT_OTEL_NAME}
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def check_trace_id(trace_id: str) -> str:
    tid = trace_id.strip().lower()
    if not _TRACE_ID.match(tid):
        raise SourceError(f"trace id {trace_id!r}: expected 32 hex digits (as shown in a report)")
    return tid


def load_trace(source: Any, trace_id: str) -> dict[str, Any]:
    """The waterfall of `trace_id` from `source` (local store or stack); SourceError when absent."""
    tid = check_trace_id(trace_id)
    if not hasattr(source, "trace_detail"):
        raise SourceError(f"source {source.name} cannot show a single trace")
    detail = source.trace_detail(tid)
    if not detail.spans:
        raise SourceError(f"trace {tid} not found in {source.name} (it may have aged out, or been sampled away)")
    return build_view(detail)


def _value(v: Any) -> Any:
    if isinstance(v, str) and len(v) > MAX_VALUE:
        return v[:MAX_VALUE] + f"… ({len(v):,} characters)"
    return v


def _tree(spans: list[SpanDetail]) -> list[tuple[SpanDetail, int]]:
    """(span, depth) in pre-order, children by start time; spans whose parent is missing are roots."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[SpanDetail]] = {}
    for s in spans:
        children.setdefault(s.parent_id if s.parent_id in ids else None, []).append(s)
    out: list[tuple[SpanDetail, int]] = []
    stack = [(s, 0) for s in sorted(children.get(None, []), key=lambda s: s.start_ns, reverse=True)]
    while stack:
        span, depth = stack.pop()
        out.append((span, depth))
        stack.extend((c, depth + 1) for c in sorted(children.get(span.span_id, []), key=lambda s: s.start_ns, reverse=True))
    return out


def build_view(detail: TraceDetail) -> dict[str, Any]:
    spans = detail.spans
    t0 = min(s.start_ns for s in spans)
    t1 = max(s.end_ns for s in spans)
    plain = [TraceSpan(s.span_id, s.parent_id, s.name, s.kind, s.target, s.start_ns, s.end_ns, s.error) for s in spans]
    on_path = {span.span_id: ms for span, ms in critical_path(plain)}
    own = self_times(plain)
    by_span: dict[str, list[dict[str, Any]]] = {}
    loose = []
    ids = {s.span_id for s in spans}
    for line in detail.logs:
        item = {"offset_ms": round((line.ts_ns - t0) / 1e6, 3), "severity": line.severity, "body": _value(line.body)}
        (by_span.setdefault(line.span_id, []) if line.span_id in ids else loose).append(item)
    ordered = _tree(spans)
    rows = []
    for span, depth in ordered[:MAX_SPANS]:
        attrs = {k: _value(v) for k, v in sorted(span.attributes.items()) if k not in _SHOWN_ELSEWHERE and k not in CONTENT_KEYS}
        rows.append({
            "span_id": span.span_id, "parent_id": span.parent_id, "depth": depth, "name": span.name,
            "kind": span.kind, "target": span.target, "service": span.service, "span_kind": span.span_kind,
            "offset_ms": round((span.start_ns - t0) / 1e6, 3), "duration_ms": round((span.end_ns - span.start_ns) / 1e6, 3),
            "self_ms": round(own.get(span.span_id, 0.0), 3),
            "critical_path_ms": round(on_path[span.span_id], 3) if span.span_id in on_path else None,
            "error": span.error, "error_type": span.error_type, "model": span.model,
            "input_tokens": span.input_tokens, "output_tokens": span.output_tokens,
            "attributes": attrs,
            "content": {k: _value(span.attributes[k]) for k in CONTENT_KEYS if k in span.attributes},
            "events": [{"offset_ms": round((e.ts_ns - t0) / 1e6, 3), "name": e.name, "attributes": {k: _value(v) for k, v in e.attributes.items()}} for e in span.events],
            "logs": by_span.get(span.span_id, []),
        })
    return {
        "trace_id": detail.trace_id,
        "start_ns": t0,
        "duration_ms": round((t1 - t0) / 1e6, 3),
        "services": sorted({s.service for s in spans if s.service}),
        "span_count": len(spans),
        "errors": sum(1 for s in spans if s.error),
        "truncated": len(ordered) > MAX_SPANS,
        "spans": rows,
        "logs": loose,
    }
