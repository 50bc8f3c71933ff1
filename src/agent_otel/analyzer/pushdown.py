"""Fleet-sized windows: the figures are computed where the data is, not from raw spans.

Counts, error ratios and latency percentiles per (kind, name) and per service come from PromQL
over the spanmetrics the collectors derive from every span before any sampling; token sums from
`gen_ai.client.token.usage`; error log volume from a LogQL metric query. Jaeger is asked only for
the traces the report explains: the slowest (by a duration filter at the measured p99), the
failed ones behind the top errors, and a fixed sample for the critical path. Evaluation scores
are LogQL metric queries over the `gen_ai.evaluation.result` events; conversations are those seen
in the recent traces, each read whole through Jaeger's attribute search. So the cost of a
report depends on the number of groups, not on the number of spans in the window.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from agent_otel.analyzer import report as raw
from agent_otel.analyzer.pricing import load_prices, price_for, price_source
from agent_otel.analyzer.sources.base import SourceError, SpanFrame
from agent_otel.analyzer.model import SCHEMA, SCHEMA_VERSION, Report
from agent_otel.errors import EmptyWindowError
from agent_otel.promql import selector
from agent_otel.analyzer.stats import PERCENTILES

CALLS = "traces_span_metrics_calls_total"
BUCKETS = "traces_span_metrics_duration_milliseconds_bucket"
ERROR = 'status_code="STATUS_CODE_ERROR"'
GROUP = ("agent_otel_kind", "agent_otel_name")
SAMPLE_TRACES = 200  # per service, for critical paths and error examples
SLOW_TRACES = 20


ROOTS = 'agent_otel_kind=~"agent|workflow"'  # an agent run is a trace: its root is the agent (or workflow) span
TRACE_ID = 10  # column of a span row (SpanFrame.from_rows)


def _sel(service: str | None, *extra: str) -> str:
    """A label selector for the service (or every service) plus `extra` matchers."""
    return selector({"service_name": service}, *extra) if service else selector(None, 'service_name!=""', *extra)


def _seconds(start_ns: int, end_ns: int) -> int:
    """The window as a whole number of seconds for a PromQL range (at least 1)."""
    return max(int((end_ns - start_ns) / 1e9), 1)


class Window:
    """How a counter's growth over the window is asked of Prometheus.

    Without counter resets in the window (the usual case) the growth is exact: last value in the
    window minus the last value before it (0 for series born inside). `increase()` would
    extrapolate to the window's edges; it is used only when a collector restart reset a counter.
    """

    def __init__(self, prom: Any, start_ns: int, end_ns: int, service: str | None) -> None:
        self.w = f"{_seconds(start_ns, end_ns)}s"
        self.lookback = f"{max(_seconds(start_ns, end_ns), 3600)}s"
        resets = prom.scalar(f"sum(resets({CALLS}{_sel(service)}[{self.w}]))", end_ns)
        self.exact = not resets

    def growth(self, metric: str, sel: str, by: str) -> str:
        if not self.exact:
            return f"sum by ({by}) (increase({metric}{sel}[{self.w}]))"
        now = f"sum by ({by}) (last_over_time({metric}{sel}[{self.w}]))"
        before = f"sum by ({by}) (last_over_time({metric}{sel}[{self.lookback}] offset {self.w}))"
        return f"({now} - ({before} or {now} * 0))"


def estimated_spans(source: Any, start_ns: int, end_ns: int, service: str | None) -> float:
    """Spans in the window according to spanmetrics (0 when Prometheus is not there)."""
    if source.prometheus is None:
        return 0.0
    w = _seconds(start_ns, end_ns)
    return source.prometheus.scalar(f"sum(increase({CALLS}{_sel(service)}[{w}s]))", end_ns) or 0.0


def build_pushdown_report(source: Any, start_ns: int, end_ns: int, *, service: str | None = None, prices: dict[str, tuple[float, float]] | None = None,
                          progress: Any = lambda _m: None) -> raw.Report:
    """The report of [start_ns, end_ns) from a stack source, with the figures pushed down."""
    t0 = time.perf_counter()
    prom = source.prometheus
    if prom is None:
        raise SourceError("push-down needs Prometheus (--prometheus) for the spanmetrics")
    win = Window(prom, start_ns, end_ns, service)
    window_s = max((end_ns - start_ns) / 1e9, 1e-9)
    sel = _sel(service)
    kn = "agent_otel_kind, agent_otel_name"

    def by(expr: str, *labels: str) -> dict[tuple[str, ...], float]:
        return {k: v for k, v in prom.by(expr, *labels, at_ns=end_ns).items() if not math.isnan(v)}

    progress("PromQL: counts, errors, percentiles")
    calls = by(win.growth(CALLS, sel, kn), *GROUP)
    if not calls or sum(calls.values()) < 0.5:
        raise EmptyWindowError(f"no spans in the window (spanmetrics in {prom.api.shown_url}{', service ' + service if service else ''})")
    errors = by(win.growth(CALLS, _sel(service, ERROR), kn), *GROUP)
    buckets = win.growth(BUCKETS, sel, "le, agent_otel_kind, agent_otel_name")
    quantiles = {p: by(f"histogram_quantile({p / 100}, {buckets})", *GROUP) for p in PERCENTILES}
    sums = by(win.growth("traces_span_metrics_duration_milliseconds_sum", sel, kn), *GROUP)
    tokens = by(win.growth("gen_ai_client_token_usage_sum", sel, "gen_ai_request_model, gen_ai_token_type"), "gen_ai_request_model", "gen_ai_token_type")
    table = prices if prices is not None else load_prices(None)

    def model_tokens(model: str) -> dict[str, Any]:
        """A model row's tokens from gen_ai.client.token.usage (by request model); agents cannot be
        attributed from metrics, so their token fields stay null here."""
        i, o = tokens.get((model, "input"), 0.0), tokens.get((model, "output"), 0.0)
        if not (i or o):
            return raw.token_figures(0, 0, 0, 0, None)
        price = price_for(model, table)
        c = 0.0 if price is None else (i * price[0] + o * price[1]) / 1e6
        return raw.token_figures(i, o, c, 0 if price else i + o, "own")

    progress("PromQL: traces over time")
    series = _timeseries(prom, service, start_ns, end_ns)
    active = [t for t, n in zip(series["bucket_start_ns"], series["calls"]) if n]
    data_start = max(min(active, default=start_ns), start_ns)
    data_end = min(max(active, default=end_ns - 1) + int(series["bucket_seconds"] * 1e9), end_ns)
    data_s = max((data_end - data_start) / 1e9, 1e-3)  # to the resolution of the series' buckets

    groups = []
    for key, n in sorted(calls.items(), key=lambda kv: -sums.get(kv[0], 0.0)):
        if n < 0.5:
            continue
        count, errs = round(n), round(errors.get(key, 0.0))
        latency = {f"p{p}": round(quantiles[p].get(key, 0.0), 3) for p in PERCENTILES}
        latency["mean"] = round(sums.get(key, 0.0) / n, 3)
        latency["max"] = None  # a histogram knows its top bucket, not the maximum
        groups.append({
            "kind": key[0] or "span", "name": key[1], "count": count, "throughput_per_s": round(n / data_s, 4), "errors": errs,
            "error_rate": round(errs / count, 4) if count else 0.0, "latency_ms": latency, "total_ms": round(sums.get(key, 0.0), 3),
            **(model_tokens(key[1]) if key[0] == "llm" else raw.token_figures(0, 0, 0, 0, None)), "histogram": None, "latency_samples_ms": [],
        })

    in_tok = sum(v for (_, t), v in tokens.items() if t == "input")
    out_tok = sum(v for (_, t), v in tokens.items() if t == "output")
    cost, unpriced, unpriced_tok = 0.0, set(), 0.0
    for (model, kind), v in tokens.items():
        price = price_for(model, table)
        if price is None:
            unpriced.add(model)
            unpriced_tok += v
            continue
        cost += v * (price[0] if kind == "input" else price[1]) / 1e6

    progress("PromQL/LogQL: services")
    services = _services(source, win, service, end_ns, data_s)

    progress("Jaeger: the traces worth explaining")
    frame = _explained_traces(source, start_ns, end_ns, service, services)
    bottlenecks, slowest, _ = raw.explain_bottlenecks(source, frame, progress) if len(frame) else ([], [], 0)
    top_errors = _top_errors(source, win, start_ns, end_ns, frame, service)
    progress("Jaeger/Loki: the slowest and failing traces")
    traces = raw.trace_views(source, [t["trace_id"] for t in slowest] + [e["trace_id"] for e in top_errors if e["trace_id"]])
    res = source.resources(start_ns, end_ns, service)
    total_calls = sum(g["count"] for g in groups)
    total_errors = sum(g["errors"] for g in groups)
    data = {
        "schema": SCHEMA, "version": SCHEMA_VERSION, "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": f"{source.name} (push-down)", "service": service,
        "window": {"start_ns": start_ns, "end_ns": end_ns, "seconds": round(window_s, 3),
                   "data_start_ns": data_start, "data_end_ns": data_end, "data_seconds": round(data_s, 3)}, "baseline_label": None,
        "totals": {
            "spans": total_calls, "traces": sum(s["traces"] for s in services), "errors": total_errors,
            "error_rate": round(total_errors / total_calls, 4) if total_calls else 0.0,
            "input_tokens": round(in_tok), "output_tokens": round(out_tok), "cost_usd": round(cost, 6), "unpriced_models": sorted(unpriced),
            "unpriced_tokens": round(unpriced_tok), "price_source": price_source(table),
        },
        "services": services, "groups": groups, "bottlenecks": bottlenecks, "slowest_traces": slowest, "errors": top_errors,
        "resources": {"cpu_utilization": res.cpu_utilization, "memory_rss_bytes": res.memory_rss_bytes, "gpu_utilization": res.gpu_utilization,
                      "gpu_memory_bytes": res.gpu_memory_bytes, "inference": res.extra},
        "timeseries": series, "traces": traces,
        "recommendations": raw.recommend(groups, bottlenecks, cost),
        "traces_fetched": len(set(frame.trace_id)) if len(frame) else 0,
        "analysis_seconds": None,
    }
    from agent_otel.analyzer import conversations, evaluations

    progress("Jaeger: the conversations of the recent traces")
    data["conversations"] = conversations.section(source, start_ns, end_ns, service, table, recent=SAMPLE_TRACES)
    progress("LogQL: evaluation scores")
    evaluations.attach(data, *evaluations.summary(source, start_ns, end_ns, service))
    data["analysis_seconds"] = round(time.perf_counter() - t0, 3)
    return Report.from_dict(data)


def _services(source: Any, win: Window, service: str | None, end_ns: int, window_s: float) -> list[dict[str, Any]]:
    prom = source.prometheus
    spans = prom.by(win.growth(CALLS, _sel(service), "service_name"), "service_name", at_ns=end_ns)
    errs = prom.by(win.growth(CALLS, _sel(service, ERROR), "service_name"), "service_name", at_ns=end_ns)
    roots = prom.by(win.growth(CALLS, _sel(service, ROOTS), "service_name"), "service_name", at_ns=end_ns)
    root_buckets = win.growth(BUCKETS, _sel(service, ROOTS), "le, service_name")
    q = {p: prom.by(f"histogram_quantile({p / 100}, {root_buckets})", "service_name", at_ns=end_ns) for p in PERCENTILES}
    error_logs: dict[tuple[str, ...], float] = {}
    if source.loki is not None:
        error_logs = source.loki.metric(f'sum by (service_name) (count_over_time({{service_name=~".+"}} | severity_text=~"(?i)error|fatal|critical" [{win.w}]))', end_ns)
    out = []
    for (svc,), n in sorted(spans.items()):
        if math.isnan(n) or n < 0.5:
            continue
        t = round(roots.get((svc,), 0.0))
        out.append({
            "service": svc, "spans": round(n), "traces": t, "traces_per_s": round(t / window_s, 4), "errors": round(errs.get((svc,), 0.0)),
            "error_rate": round(errs.get((svc,), 0.0) / n, 4),
            "trace_latency_ms": {f"p{p}": (None if math.isnan(v := q[p].get((svc,), math.nan)) else round(v, 3)) for p in PERCENTILES},
            "error_log_lines": round(error_logs.get((svc,), 0.0)), "input_tokens": None, "output_tokens": None, "cost_usd": None, "unpriced_tokens": None,
        })
    return out


def _explained_traces(source: Any, start_ns: int, end_ns: int, service: str | None, services: list[dict[str, Any]]) -> SpanFrame:
    """Spans of: the slowest traces (Jaeger's duration filter at the p99 the histograms gave),
    and a bounded sample of recent traces — per service, independent of the window's size."""
    rows: list[tuple] = []
    seen: set[str] = set()  # a trace found by both queries counts once
    for s in services if not service else [s for s in services if s["service"] == service]:
        p99 = s["trace_latency_ms"].get("p99")
        slow = source.jaeger.find(s["service"], start_ns, end_ns, limit=SLOW_TRACES, min_duration_ms=p99) if p99 else []
        for found in (slow, source.jaeger.find(s["service"], start_ns, end_ns, limit=SAMPLE_TRACES)):
            rows += [r for r in found if r[TRACE_ID] not in seen]
            seen |= {r[TRACE_ID] for r in found}
    return SpanFrame.from_rows(rows)


def _top_errors(source: Any, win: Window, start_ns: int, end_ns: int, frame: SpanFrame, service: str | None) -> list[dict[str, Any]]:
    counts = source.prometheus.by(f"topk(10, {win.growth(CALLS, _sel(service, ERROR), 'agent_otel_kind, agent_otel_name, error_type')})",
                                  "agent_otel_kind", "agent_otel_name", "error_type", at_ns=end_ns)
    example: dict[tuple[str, str], str] = {}
    for i in np.flatnonzero(frame.error) if len(frame) else []:
        example.setdefault((frame.kind[i], frame.target[i]), frame.trace_id[i])
    logs = source.error_logs(list(set(example.values())), start_ns, end_ns)
    out = []
    for (kind, name, etype), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        if math.isnan(n) or n < 0.5:
            continue
        tid = example.get((kind, name))
        excerpt = (logs.get(tid) or "")[:300] if tid else ""
        out.append({"kind": kind, "name": name, "error_type": etype or "error", "count": round(n), "trace_id": tid, "log_excerpt": excerpt or None})
    return out


def _timeseries(prom: Any, service: str | None, start_ns: int, end_ns: int, buckets: int = 30) -> dict[str, Any]:
    step = max((end_ns - start_ns) / buckets / 1e9, 1.0)
    calls = prom.range(f"sum(increase({CALLS}{_sel(service)}[{step:.0f}s]))", start_ns, end_ns, step)
    errs = prom.range(f"sum(increase({CALLS}{_sel(service, ERROR)}[{step:.0f}s]))", start_ns, end_ns, step)
    roots = dict(prom.range(f"sum(increase({CALLS}{_sel(service, ROOTS)}[{step:.0f}s]))", start_ns, end_ns, step))
    root_buckets = f"sum by (le) (increase({BUCKETS}{_sel(service, ROOTS)}[{step:.0f}s]))"
    pct = {f"p{p}": dict(prom.range(f"histogram_quantile({p / 100}, {root_buckets})", start_ns, end_ns, step)) for p in (50, 95, 99)}
    tok = {t: dict(prom.range(f'sum(increase(gen_ai_client_token_usage_sum{_sel(service, f"gen_ai_token_type={chr(34)}{t}{chr(34)}")}[{step:.0f}s]))',
                              start_ns, end_ns, step)) for t in ("input", "output")}
    times = [t for t, _ in calls]

    def clean(v: float | None, digits: int = 3) -> float | None:
        return None if v is None or math.isnan(v) else round(v, digits)

    return {
        "bucket_start_ns": [int(t - step * 1e9) for t in times],
        "bucket_seconds": round(step, 3),
        "calls": [round(v) for _, v in calls],
        "errors": [round(dict(errs).get(t, 0.0)) for t in times],
        "traces": [round(roots.get(t, 0.0)) for t in times],
        "traces_per_s": [round(roots.get(t, 0.0) / step, 4) for t in times],
        "trace_latency_ms": {p: [clean(q.get(t)) if roots.get(t, 0.0) >= 0.5 else None for t in times] for p, q in pct.items()},
        "input_tokens": [round(tok["input"].get(t, 0.0)) for t in times],
        "output_tokens": [round(tok["output"].get(t, 0.0)) for t in times],
    }
