"""Build a performance report from a source: figures per group, bottlenecks, errors, baseline verdicts.

The figures are computed on columns (numpy), so a window of a million spans takes seconds. The
critical-path analysis, which needs whole traces, runs on the slowest traces plus a fixed-size
random sample of the rest, so its cost does not grow with the window.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agent_otel.analyzer import stats
from agent_otel.analyzer.critical_path import critical_path
from agent_otel.analyzer.model import SCHEMA, SCHEMA_VERSION, Report
from agent_otel.analyzer.pricing import price_for, price_source, priced
from agent_otel.analyzer.rollup import agent_rollup
from agent_otel.analyzer.sources.base import ResourceFigures, Source, SourceError, SpanFrame
from agent_otel.errors import EmptyWindowError

SLOWEST_TRACES = 5
PATH_SAMPLE = 200
BASELINE_SAMPLES = 2000

Progress = Callable[[str], None]


@dataclass
class Baseline:
    """Latency samples and figures of the baseline: from a window of a source, or a saved file."""

    label: str
    samples: dict[tuple[str, str], np.ndarray]
    error_rates: dict[tuple[str, str], float]
    resources: dict[str, float | None] = field(default_factory=dict)
    window: tuple[int, int] | None = None  # [start_ns, end_ns) the baseline covers, where known

    @classmethod
    def from_frame(cls, label: str, frame: SpanFrame, resources: ResourceFigures) -> Baseline:
        samples, rates = {}, {}
        for key, idx in _group_indices(frame).items():
            samples[key] = frame.duration_ms[idx]
            rates[key] = float(frame.error[idx].mean()) if idx.size else 0.0
        return cls(label, samples, rates, {"cpu_utilization": resources.cpu_utilization, "memory_rss_bytes": resources.memory_rss_bytes})

    @classmethod
    def load(cls, path: str | Path) -> Baseline:
        p = Path(path)
        try:
            data = json.loads(p.read_text())
            if data.get("schema") != SCHEMA:
                raise ValueError(f"not an agent-otel report (schema {data.get('schema')!r})")
            samples, rates = {}, {}
            for g in data["groups"]:
                key = (g["kind"], g["name"])
                samples[key] = np.asarray(g.get("latency_samples_ms") or [], dtype=np.float64)
                rates[key] = float(g["error_rate"])
            res = data.get("resources") or {}
            win = data.get("window") or {}
            window = (int(win["start_ns"]), int(win["end_ns"])) if "start_ns" in win and "end_ns" in win else None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SourceError(f"baseline file {p}: {exc}") from None
        return cls(f"file {p.name}", samples, rates, {"cpu_utilization": res.get("cpu_utilization"), "memory_rss_bytes": res.get("memory_rss_bytes")}, window)


def _group_indices(frame: SpanFrame) -> dict[tuple[str, str], np.ndarray]:
    if len(frame) == 0:
        return {}
    keys = np.char.add(np.char.add(frame.kind.astype(str), "\x1f"), frame.target.astype(str))
    uniq, inverse = np.unique(keys, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
    out = {}
    for i, key in enumerate(uniq):
        kind, name = str(key).split("\x1f", 1)
        out[(kind, name)] = order[bounds[i] : bounds[i + 1]]
    return out


def _costs(frame: SpanFrame, prices: dict[str, tuple[float, float]]) -> tuple[np.ndarray, set[str], np.ndarray]:
    """Cost of each span, the models missing from the price table, and each span's tokens of those models."""
    cost = np.zeros(len(frame))
    unpriced_tokens = np.zeros(len(frame))
    unpriced: set[str] = set()
    has_tokens = ~(np.isnan(frame.input_tokens) & np.isnan(frame.output_tokens))
    for model in set(frame.model[has_tokens]) - {None}:
        price = price_for(model, prices)
        rows = has_tokens & (frame.model == model)
        if price is None:
            unpriced.add(str(model))
            unpriced_tokens[rows] = np.nan_to_num(frame.input_tokens[rows]) + np.nan_to_num(frame.output_tokens[rows])
            continue
        extra = [col[rows] if col is not None else 0 for col in (frame.cache_read_tokens, frame.cache_write_tokens, frame.reasoning_tokens)]
        cost[rows] = priced(price, frame.input_tokens[rows], frame.output_tokens[rows], *extra)
    return cost, unpriced, unpriced_tokens


def token_figures(input_tokens: float, output_tokens: float, cost: float, unpriced_tokens: float, scope: str | None) -> dict[str, Any]:
    """The token/cost fields of a row: null where they do not apply (a tool, a step), cost null
    when every token is of an unpriced model (`unpriced_tokens` says how many)."""
    if scope is None:
        return {"tokens_scope": None, "input_tokens": None, "output_tokens": None, "cost_usd": None, "unpriced_tokens": None}
    priced = input_tokens + output_tokens - unpriced_tokens
    return {
        "tokens_scope": scope, "input_tokens": int(input_tokens), "output_tokens": int(output_tokens),
        "cost_usd": round(float(cost), 6) if priced > 0 or not unpriced_tokens else None, "unpriced_tokens": int(unpriced_tokens),
    }


def latency_histogram(current: np.ndarray, base: np.ndarray | None, bins: int = 24) -> dict[str, Any] | None:
    """Counts on log-spaced bins shared by the window and the baseline (so they overlay)."""
    both = current if base is None or not base.size else np.concatenate([current, base])
    both = both[both > 0]
    if both.size < 2:
        return None
    lo, hi = np.log10(both.min()), np.log10(both.max())
    if hi - lo < 1e-6:
        lo, hi = lo - 0.05, hi + 0.05
    edges = np.logspace(lo, hi, bins + 1)
    edges[0], edges[-1] = min(edges[0], both.min()), max(edges[-1], both.max())  # logspace rounding must not drop the extremes
    counts, _ = np.histogram(current, bins=edges)
    out = {"edges_ms": [round(float(e), 4) for e in edges], "counts": counts.tolist(), "baseline_counts": None}
    if base is not None and base.size:
        out["baseline_counts"] = np.histogram(base, bins=edges)[0].tolist()
    return out


def explain_bottlenecks(source: Source, frame: SpanFrame, progress: Progress) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    roots = np.flatnonzero(np.array([p is None for p in frame.parent_id], dtype=bool)) if len(frame) else np.array([], dtype=int)
    if roots.size == 0:
        return [], [], 0
    by_duration = roots[np.argsort(frame.duration_ms[roots])[::-1]]
    slowest = list(by_duration[:SLOWEST_TRACES])
    rest = by_duration[SLOWEST_TRACES:]
    rng = np.random.default_rng(0)
    sample = list(rng.choice(rest, min(PATH_SAMPLE, rest.size), replace=False)) if rest.size else []
    totals: dict[tuple[str, str], float] = defaultdict(float)
    total_ms = 0.0
    slow_out = []
    chosen = slowest + sample
    fetched = source.traces([frame.trace_id[i] for i in chosen]) if hasattr(source, "traces") else {}  # one query where the source can
    for n, i in enumerate(chosen):
        if n % 50 == 0:
            progress(f"critical paths {n}/{len(chosen)}")
        trace_id = frame.trace_id[i]
        path = critical_path(fetched[trace_id] if trace_id in fetched else source.trace(trace_id))
        for span, own_ms in path:
            totals[(span.kind, span.target)] += own_ms
            total_ms += own_ms
        if n < len(slowest):
            slow_out.append(
                {
                    "trace_id": trace_id,
                    "duration_ms": round(float(frame.duration_ms[i]), 3),
                    "root": f"{frame.kind[i]} {frame.target[i]}",
                    "critical_path": [{"kind": s.kind, "name": s.target, "self_ms": round(ms, 3)} for s, ms in path if ms > 0],
                }
            )
    ranking = sorted(
        ({"kind": k, "name": n, "critical_path_ms": round(ms, 3), "share": round(ms / total_ms, 4) if total_ms else 0.0} for (k, n), ms in totals.items()),
        key=lambda r: r["critical_path_ms"],
        reverse=True,
    )
    return ranking, slow_out, int(roots.size)


def _errors(source: Source, frame: SpanFrame, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
    idx = np.flatnonzero(frame.error)
    if idx.size == 0:
        return []
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for i in idx:
        groups[(frame.kind[i], frame.target[i], frame.error_type[i] or "error")].append(int(i))
    top = sorted(groups.items(), key=lambda kv: len(kv[1]), reverse=True)[:10]
    latest = {key: max(rows, key=lambda r: frame.start_ns[r]) for key, rows in top}
    logs = source.error_logs([frame.trace_id[r] for r in latest.values()], start_ns, end_ns)
    return [
        {
            "kind": k, "name": n, "error_type": e, "count": len(rows),
            "trace_id": frame.trace_id[latest[(k, n, e)]],
            "log_excerpt": (logs.get(frame.trace_id[latest[(k, n, e)]]) or "")[:300] or None,
        }
        for (k, n, e), rows in top
    ]


def recommend(groups: list[dict[str, Any]], bottlenecks: list[dict[str, Any]], total_cost: float) -> list[str]:
    recs = []
    by_key = {(g["kind"], g["name"]): g for g in groups}
    for b in [b for b in bottlenecks if b["kind"] not in ("agent", "workflow")][:2]:
        g = by_key.get((b["kind"], b["name"]))
        text = f"{b['kind']} {b['name']} is {b['share'] * 100:.0f}% of the critical path"
        cmp = (g or {}).get("baseline") or {}
        if cmp.get("status") == "degraded":
            text += f"; p95 up {cmp['p95_change_pct']:.0f}% since baseline"
        recs.append(text + ": make it faster, cache it, or run it concurrently with other work.")
    for g in groups:
        cmp = g.get("baseline") or {}
        if cmp.get("status") == "degraded" and not any(f"{g['kind']} {g['name']} is" in r for r in recs):
            recs.append(f"{g['kind']} {g['name']}: p95 {cmp['p95_ms']:.0f} ms, up {cmp['p95_change_pct']:.0f}% since baseline (p={cmp['p_value']:.3g}).")
        if g["count"] >= 5 and g["error_rate"] >= 0.05:
            recs.append(f"{g['kind']} {g['name']} fails {g['error_rate'] * 100:.0f}% of {g['count']} calls: see the top errors for a trace id.")
    if total_cost > 0:
        own = [g for g in groups if g.get("tokens_scope", "own") == "own" and (g.get("cost_usd") or 0) > 0]  # not the agents' roll-ups
        top = max(own, key=lambda g: g["cost_usd"], default=None)
        if top and top["cost_usd"] / total_cost >= 0.5:
            recs.append(f"{top['kind']} {top['name']} is {top['cost_usd'] / total_cost * 100:.0f}% of token cost: a cheaper model or a cache there pays most.")
    return recs


def build_report(
    source: Source,
    start_ns: int,
    end_ns: int,
    *,
    service: str | None = None,
    baseline: Baseline | None = None,
    prices: dict[str, tuple[float, float]] | None = None,
    thresholds: stats.Thresholds = stats.Thresholds(),
    progress: Progress = lambda _msg: None,
    conversation: str | None = None,
    summaries: str = "auto",
) -> Report:
    """The report of the window [start_ns, end_ns) of `source` (optionally one service, or one conversation).
    `summaries`: the local store's per-minute summaries are read instead of raw spans for a big
    window ("auto"), always, or never (analyzer.summary_report); a conversation's report reads raw spans."""
    from agent_otel.analyzer import summary_report
    from agent_otel.analyzer.pricing import load_prices

    prices = prices if prices is not None else load_prices(None)
    if conversation is None and summary_report.applies(source, start_ns, end_ns, service, summaries):
        return summary_report.build_summary_report(source, start_ns, end_ns, service=service, baseline=baseline, prices=prices,
                                                   thresholds=thresholds, progress=progress)
    t0 = time.perf_counter()
    if service and service not in source.services():
        raise SourceError(f"unknown service {service!r}; {source.name} knows: {', '.join(source.services()) or 'none'}")
    progress(f"reading spans from {source.name}")
    frame = source.spans(start_ns, end_ns, service)
    from agent_otel.analyzer import conversations as _conversations
    from agent_otel.analyzer import evaluations as _evaluations

    convs = _conversations.section(source, start_ns, end_ns, service, prices, conversation)
    if conversation is not None:  # the report of one conversation: its turns' traces only
        if not convs:
            raise SourceError(f"no spans of conversation {conversation!r} in the window ({source.name})")
        frame = _conversations.restrict(frame, {t["trace_id"] for t in convs[0]["turn_detail"]})
    if len(frame) == 0:
        raise EmptyWindowError(f"no spans in the window ({source.name}{', service ' + service if service else ''})")
    window_s = max((end_ns - start_ns) / 1e9, 1e-9)
    data_start, data_end = int(frame.start_ns.min()), int((frame.start_ns + frame.duration_ms * 1e6).max())
    data_s = max((data_end - data_start) / 1e9, 1e-3)  # rates are over the time the data covers, not the window asked for
    cost, unpriced, unpriced_tok = _costs(frame, prices)
    rolled = agent_rollup(frame, cost, unpriced_tok)
    has_tokens = ~(np.isnan(frame.input_tokens) & np.isnan(frame.output_tokens))
    progress(f"aggregating {len(frame):,} spans")
    groups = []
    rng = np.random.default_rng(0)
    for (kind, name), idx in sorted(_group_indices(frame).items(), key=lambda kv: -frame.duration_ms[kv[1]].sum()):
        durations = frame.duration_ms[idx]
        errors = int(frame.error[idx].sum())
        g: dict[str, Any] = {
            "kind": kind,
            "name": name,
            "count": int(idx.size),
            "throughput_per_s": round(idx.size / data_s, 4),
            "errors": errors,
            "error_rate": round(errors / idx.size, 4),
            "latency_ms": stats.latency_summary(durations),
            "total_ms": round(float(durations.sum()), 3),
            **_group_tokens(kind, idx, frame, cost, unpriced_tok, rolled, has_tokens),
            "histogram": latency_histogram(durations, baseline.samples.get((kind, name)) if baseline is not None else None),
            "latency_samples_ms": [round(float(v), 3) for v in (durations if durations.size <= BASELINE_SAMPLES else rng.choice(durations, BASELINE_SAMPLES, replace=False))],
        }
        if baseline is not None:
            key = (kind, name)
            g["baseline"] = stats.compare_latency(durations, baseline.samples.get(key, np.array([])), thresholds)
            if key in baseline.error_rates:
                g["baseline"]["error_rate_change_points"] = round((g["error_rate"] - baseline.error_rates[key]) * 100, 2)
        groups.append(g)

    bottlenecks, slowest, trace_count = explain_bottlenecks(source, frame, progress)
    errors = _errors(source, frame, start_ns, end_ns)
    progress("loading the slowest and failing traces")
    traces = trace_views(source, [t["trace_id"] for t in slowest] + [e["trace_id"] for e in errors])
    res = source.resources(start_ns, end_ns, service)
    resources: dict[str, Any] = {
        "cpu_utilization": res.cpu_utilization,
        "memory_rss_bytes": res.memory_rss_bytes,
        "gpu_utilization": res.gpu_utilization,
        "gpu_memory_bytes": res.gpu_memory_bytes,
        "inference": res.extra,
    }
    if baseline is not None:
        resources["baseline"] = {
            "cpu_utilization": stats.compare_level(res.cpu_utilization, baseline.resources.get("cpu_utilization"), thresholds.resource_pct),
            "memory_rss_bytes": stats.compare_level(res.memory_rss_bytes, baseline.resources.get("memory_rss_bytes"), thresholds.resource_pct),
        }
    total_cost = float(cost.sum())
    data = {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": source.name,
        "service": service,
        "window": {"start_ns": start_ns, "end_ns": end_ns, "seconds": round(window_s, 3),
                   "data_start_ns": data_start, "data_end_ns": data_end, "data_seconds": round(data_s, 3)},
        "baseline_label": baseline.label if baseline else None,
        "totals": {
            "spans": len(frame),
            "traces": trace_count,
            "errors": int(frame.error.sum()),
            "error_rate": round(float(frame.error.mean()), 4),
            "input_tokens": int(np.nansum(frame.input_tokens)),
            "output_tokens": int(np.nansum(frame.output_tokens)),
            "cost_usd": round(total_cost, 6),
            "unpriced_models": sorted(unpriced),
            "unpriced_tokens": int(unpriced_tok.sum()),
            "price_source": price_source(prices),
        },
        "services": _services(frame, cost, unpriced_tok, data_s),
        "groups": groups,
        "bottlenecks": bottlenecks,
        "slowest_traces": slowest,
        "errors": errors,
        "resources": resources,
        "timeseries": _timeseries(frame, cost, data_start, data_end),
        "traces": traces,
        "recommendations": recommend(groups, bottlenecks, total_cost),
        "analysis_seconds": None,
    }
    data["conversations"] = convs
    count, agg = _evaluations.summary(source, start_ns, end_ns, service, None if conversation is None else set(frame.trace_id))
    _evaluations.attach(data, count, agg, baseline, source, service)
    data["analysis_seconds"] = round(time.perf_counter() - t0, 3)
    return Report.from_dict(data)


def _group_tokens(kind: str, idx: np.ndarray, frame: SpanFrame, cost: np.ndarray, unpriced_tok: np.ndarray, rolled: np.ndarray | None,
                  has_tokens: np.ndarray) -> dict[str, Any]:
    """Own tokens for rows that spend them (models); the roll-up for agents; null for the rest."""
    if kind == "agent" and rolled is not None:
        r = rolled[idx].sum(axis=0)
        if r[0] or r[1]:
            return token_figures(r[0], r[1], r[2], r[3], "rolled_up")
    if has_tokens[idx].any():
        return token_figures(np.nansum(frame.input_tokens[idx]), np.nansum(frame.output_tokens[idx]), cost[idx].sum(), unpriced_tok[idx].sum(), "own")
    return token_figures(0, 0, 0, 0, None)


def trace_views(source: Source, trace_ids: list[str], limit: int = 15) -> dict[str, Any]:
    """Waterfalls of the given traces (first `limit` distinct ids), for the report to open."""
    from agent_otel.analyzer.trace import load_trace

    out: dict[str, Any] = {}
    for tid in dict.fromkeys(t for t in trace_ids if t):
        if len(out) >= limit:
            break
        try:
            out[tid] = load_trace(source, tid)
        except SourceError:
            continue  # aged out or sampled away between the listing and now: the id stays, unlinked
    return out


def _services(frame: SpanFrame, cost: np.ndarray, unpriced_tok: np.ndarray, window_s: float) -> list[dict[str, Any]]:
    """Per service: spans, traces (root spans), errors, root-span latency, tokens and cost."""
    services = frame.service.astype(str)
    is_root = np.array([p is None for p in frame.parent_id], dtype=bool)
    out = []
    for svc in sorted(set(services)):
        rows = services == svc
        roots = rows & is_root
        durations = frame.duration_ms[roots]
        out.append({
            "service": svc,
            "spans": int(rows.sum()),
            "traces": int(roots.sum()),
            "traces_per_s": round(float(roots.sum()) / window_s, 4),  # over the span of the data
            "errors": int(frame.error[rows].sum()),
            "error_rate": round(float(frame.error[rows].mean()), 4),
            "trace_latency_ms": stats.latency_summary(durations),
            "input_tokens": int(np.nansum(frame.input_tokens[rows])),
            "output_tokens": int(np.nansum(frame.output_tokens[rows])),
            "cost_usd": round(float(cost[rows].sum()), 6),
            "unpriced_tokens": int(unpriced_tok[rows].sum()),
        })
    return out


def _timeseries(frame: SpanFrame, cost: np.ndarray, lo: int, hi: int, buckets: int | None = None) -> dict[str, Any]:
    """Per bucket over the span of the data: spans, errors, traces (root spans) and their rate and
    latency percentiles, tokens and cost — the HTML report's over-time charts. Up to 30 buckets,
    fewer for few traces (a percentile of one trace per bucket says nothing)."""
    hi = max(hi, lo + 1)
    is_root = np.array([p is None for p in frame.parent_id], dtype=bool)
    if buckets is None:
        buckets = int(np.clip(int(is_root.sum()) // 4, 5, 30))
    edges = np.linspace(lo, hi, buckets + 1)
    which = np.clip(np.searchsorted(edges, frame.start_ns, side="right") - 1, 0, buckets - 1)
    bucket_s = (hi - lo) / buckets / 1e9
    calls = np.bincount(which, minlength=buckets)
    errors = np.bincount(which, weights=frame.error.astype(float), minlength=buckets)
    roots = np.bincount(which[is_root], minlength=buckets)
    pct: dict[str, list[float | None]] = {"p50": [], "p95": [], "p99": []}
    for b in range(buckets):
        d = frame.duration_ms[is_root & (which == b)]
        for p in pct:
            pct[p].append(round(float(np.percentile(d, int(p[1:]))), 3) if d.size else None)
    return {
        "bucket_start_ns": [int(e) for e in edges[:-1]],
        "bucket_seconds": round(bucket_s, 3),
        "calls": calls.tolist(),
        "errors": [int(e) for e in errors],
        "traces": roots.tolist(),
        "traces_per_s": [round(r / bucket_s, 4) if bucket_s > 0 else None for r in roots],
        "trace_latency_ms": pct,
        "input_tokens": [int(v) for v in np.bincount(which, weights=np.nan_to_num(frame.input_tokens), minlength=buckets)],
        "output_tokens": [int(v) for v in np.bincount(which, weights=np.nan_to_num(frame.output_tokens), minlength=buckets)],
        "cost_usd": [round(float(v), 6) for v in np.bincount(which, weights=cost, minlength=buckets)],
    }
