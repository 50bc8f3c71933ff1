"""Conversations in a report: spans grouped by `gen_ai.conversation.id`, one turn per trace.

Per conversation: turns, latency of each turn (its trace, first start to last end), tokens, cost
and errors. Reads the attribute straight from the source (local store SQL, Jaeger span
attributes) and returns plain data; report.py and the renderers only place it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from agent_otel import semconv
from agent_otel.analyzer.pricing import price_for

CONV = semconv.GEN_AI_CONVERSATION_ID


def conversation_spans(source: Any, start_ns: int, end_ns: int, service: str | None, conversation: str | None = None,
                       recent: int | None = None) -> list[dict[str, Any]]:
    """Spans of the window that carry a conversation id (only `conversation`'s when given), as dicts;
    empty for a source without span attributes. Each source owns its query (local SQL; the stack's
    Jaeger listing or attribute search); `recent` is for the stack's push-down report."""
    if not hasattr(source, "conversation_rows"):
        return []
    keys = ("conversation_id", "trace_id", "start_ns", "end_ns", "error", "model", "input_tokens", "output_tokens")
    kw: dict[str, Any] = {"recent": recent} if recent is not None else {}
    return [dict(zip(keys, r)) for r in source.conversation_rows(CONV, start_ns, end_ns, service, conversation, **kw) if r[0]]


def summarize(rows: list[dict[str, Any]], prices: dict[str, tuple[float, float]]) -> list[dict[str, Any]]:
    """One entry per conversation, most recent first: turns (traces) with their latency, tokens, cost, errors."""
    by_conv: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_conv[str(r["conversation_id"])][str(r["trace_id"])].append(r)
    out = []
    for cid, traces in by_conv.items():
        turns = []
        for tid, spans in traces.items():
            tin = sum(int(s["input_tokens"] or 0) for s in spans)
            tout = sum(int(s["output_tokens"] or 0) for s in spans)
            cost = 0.0
            for s in spans:
                price = price_for(s["model"], prices) if s["model"] and (s["input_tokens"] or s["output_tokens"]) else None
                if price:
                    cost += (int(s["input_tokens"] or 0) * price[0] + int(s["output_tokens"] or 0) * price[1]) / 1e6
            start, end = min(int(s["start_ns"]) for s in spans), max(int(s["end_ns"]) for s in spans)
            turns.append({"trace_id": tid, "start_ns": start, "latency_ms": round((end - start) / 1e6, 3), "spans": len(spans),
                          "errors": sum(1 for s in spans if s["error"]), "input_tokens": tin, "output_tokens": tout, "cost_usd": round(cost, 6)})
        turns.sort(key=lambda t: t["start_ns"])
        lat = [t["latency_ms"] for t in turns]
        out.append({
            "conversation_id": cid, "turns": len(turns), "first_ns": turns[0]["start_ns"], "last_ns": turns[-1]["start_ns"],
            "latency_ms": {"mean": round(sum(lat) / len(lat), 3), "max": max(lat), "total": round(sum(lat), 3)},
            "errors": sum(t["errors"] for t in turns), "input_tokens": sum(t["input_tokens"] for t in turns),
            "output_tokens": sum(t["output_tokens"] for t in turns), "cost_usd": round(sum(t["cost_usd"] for t in turns), 6),
            "turn_detail": turns,
        })
    out.sort(key=lambda c: -c["last_ns"])
    return out


def section(source: Any, start_ns: int, end_ns: int, service: str | None, prices: dict[str, tuple[float, float]],
            conversation: str | None = None, limit: int = 50, recent: int | None = None) -> list[dict[str, Any]]:
    """The report's `conversations`: every one in the window (first `limit`), or just `conversation`."""
    rows = conversation_spans(source, start_ns, end_ns, service, conversation, recent)
    if conversation is not None:
        rows = [r for r in rows if str(r["conversation_id"]) == conversation]
    return summarize(rows, prices)[:limit]


def restrict(frame: Any, trace_ids: set[str]) -> Any:
    """The spans of `frame` that belong to the given traces (a report of one conversation)."""
    import dataclasses

    import numpy as np

    mask = np.array([t in trace_ids for t in frame.trace_id], dtype=bool)
    return dataclasses.replace(frame, **{f.name: (getattr(frame, f.name)[mask] if getattr(frame, f.name) is not None else None)
                                         for f in dataclasses.fields(frame)})
