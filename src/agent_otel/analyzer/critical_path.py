"""Critical path and self-time of one trace.

The critical path is what the trace's end waited on: starting from the root, the child that
finished last is on it, then the child that finished before that one started, and so on; the
time no child on the path covers is the parent's own (self) time on the path. This is the
definition Jaeger's critical-path view uses, and what a user means by "where the time goes".
"""

from __future__ import annotations

from collections import defaultdict

from agent_otel.analyzer.sources.base import TraceSpan


def _children(spans: list[TraceSpan]) -> dict[str | None, list[TraceSpan]]:
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[TraceSpan]] = defaultdict(list)
    for s in spans:
        parent = s.parent_id if s.parent_id in ids else None
        children[parent].append(s)
    return children


def critical_path(spans: list[TraceSpan]) -> list[tuple[TraceSpan, float]]:
    """(span, milliseconds of the critical path spent in that span itself), root first."""
    if not spans:
        return []
    children = _children(spans)
    roots = sorted(children[None], key=lambda s: s.end_ns - s.start_ns, reverse=True)
    out: list[tuple[TraceSpan, float]] = []

    def walk(span: TraceSpan, window_end: int) -> None:
        end = min(span.end_ns, window_end)
        cursor = end
        own = 0
        kids = sorted(children.get(span.span_id, ()), key=lambda c: c.end_ns, reverse=True)
        on_path: list[tuple[TraceSpan, int]] = []
        for child in kids:
            if child.start_ns >= cursor:  # began after what we wait on: not on the path
                continue
            child_end = min(child.end_ns, cursor)
            if child_end <= span.start_ns:
                continue
            own += cursor - child_end
            on_path.append((child, child_end))
            cursor = max(child.start_ns, span.start_ns)
            if cursor <= span.start_ns:
                break
        own += max(cursor - span.start_ns, 0)
        out.append((span, own / 1e6))
        for child, child_end in on_path:
            walk(child, child_end)

    walk(roots[0], roots[0].end_ns)
    return out


def self_times(spans: list[TraceSpan]) -> dict[str, float]:
    """span_id -> self time in ms: duration minus the union of its children's intervals."""
    children = _children(spans)
    out = {}
    for s in spans:
        intervals = sorted((max(c.start_ns, s.start_ns), min(c.end_ns, s.end_ns)) for c in children.get(s.span_id, ()))
        covered, cur_start, cur_end = 0, None, None
        for a, b in intervals:
            if b <= a:
                continue
            if cur_end is None or a > cur_end:
                if cur_end is not None:
                    covered += cur_end - cur_start
                cur_start, cur_end = a, b
            else:
                cur_end = max(cur_end, b)
        if cur_end is not None:
            covered += cur_end - cur_start
        out[s.span_id] = max(s.end_ns - s.start_ns - covered, 0) / 1e6
    return out
