"""The report as one self-contained HTML file: tables, inline SVG charts (charts.py) and the
slowest and failing traces as waterfalls (waterfall.py) that open from every trace id shown.
Nothing is fetched: no CDN, no font, no image; a few lines of inline script open a waterfall."""

from __future__ import annotations

import html
import json
from typing import Any

from agent_otel.analyzer.model import Report
from agent_otel.analyzer.render import charts, waterfall
from agent_otel.analyzer.render.terminal import as_report
from agent_otel.analyzer.render.charts import e
from agent_otel.analyzer.render.units import duration_unit, fmt_cost, fmt_duration, fmt_rate, fmt_tokens, resource_bits

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;color:#222;max-width:1200px;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right}
th.l,td.l{text-align:left}
.degraded{color:#D55E00;font-weight:bold}.improved{color:#009E73}.stable{color:#777}
h2{margin-top:1.6em}.muted{color:#666;font-size:13px}svg text{font-size:11px;fill:#222}svg .label{fill:#555}
.grid{display:flex;flex-wrap:wrap;gap:.5em 1em}.grid>div{flex:0 0 auto}
.legend-note span{display:inline-block;margin-right:1em}
a.tid{font-family:monospace}
@media print{body{max-width:none;margin:0}.grid>div{break-inside:avoid}}
"""


from agent_otel.analyzer.render import conversations_evaluations  # noqa: E402


def _tid(trace_id: str | None, data: dict[str, Any]) -> str:
    """A trace id that opens its waterfall when the report holds it."""
    if not trace_id:
        return ""
    if trace_id in (data.get("traces") or {}):
        return f"<a class='tid' href='#{waterfall.anchor(trace_id)}'>{e(trace_id)}</a>"
    return f"<code title='not in this report: agent-otel trace {e(trace_id)}'>{e(trace_id)}</code>"


def _header(data: dict[str, Any]) -> str:
    t, w = data["totals"], data["window"]
    cost = f"cost ${t['cost_usd']:.4f}"
    if t.get("unpriced_tokens") or t.get("unpriced_models"):
        cost += f" + unpriced {t.get('unpriced_tokens') or 0:,} tokens ({e(', '.join(t.get('unpriced_models') or []))})"
    data_span = f" (data over {w['data_seconds']:,.1f}s; rates are per second of that)" if w.get("data_seconds") is not None else ""
    return (f"<p>{e(data['source'])} · {e(data['service'] or 'all services')} · {w['seconds']:,.0f}s window{data_span} · "
            f"{t['spans']:,} spans · {t['traces']:,} traces · error rate {t['error_rate'] * 100:.1f}% · "
            f"tokens {t['input_tokens']:,} in / {t['output_tokens']:,} out · {cost}"
            + (f" · baseline {e(data['baseline_label'])}" if data.get("baseline_label") else "") + "</p>")


def _groups_table(data: dict[str, Any]) -> str:
    groups = data["groups"]
    units = {p: duration_unit(g["latency_ms"][p] for g in groups) for p in ("p50", "p95", "p99")}
    with_base = any("baseline" in g for g in groups)
    head = ("<table><tr><th class=l>kind</th><th class=l>name</th><th>calls</th><th>calls/s</th><th>err %</th>"
            + "".join(f"<th>{p} {u[0]}</th>" for p, u in units.items()) + "<th>tokens in/out</th><th>cost $</th>"
            + ("<th>p95 vs baseline</th>" if with_base else "") + "</tr>")
    rows = []
    for g in groups:
        b = g.get("baseline") or {}
        pct = b.get("p95_change_pct")
        tok = fmt_tokens(g) + (" ∑" if g.get("tokens_scope") == "rolled_up" else "")
        rows.append(
            f"<tr><td class=l>{e(g['kind'])}</td><td class=l>{e(g['name'])}</td><td>{g['count']:,}</td><td>{fmt_rate(g['throughput_per_s'])}</td>"
            f"<td>{g['error_rate'] * 100:.1f}</td>" + "".join(f"<td>{fmt_duration(g['latency_ms'][p], u)}</td>" for p, u in units.items())
            + f"<td>{e(tok)}</td><td>{e(fmt_cost(g))}</td>"
            + (f"<td class='{e(b.get('status', ''))}'>{'' if pct is None else f'{pct:+.0f}% '}{e(b.get('status', ''))}</td>" if with_base else "") + "</tr>")
    note = ("<p class='muted'>∑ an agent's row sums the tokens and cost of the model calls it made (down to the next agent). "
            "Blank: does not apply (a tool or step spends no tokens).</p>") if any(g.get("tokens_scope") == "rolled_up" for g in groups) else ""
    return head + "".join(rows) + "</table>" + note


def _services_table(data: dict[str, Any]) -> str:
    services = data.get("services") or []
    if len(services) < 2:
        return ""
    u50 = duration_unit(s["trace_latency_ms"]["p50"] for s in services)
    u95 = duration_unit(s["trace_latency_ms"]["p95"] for s in services)
    out = [f"<h2>Per service</h2><table><tr><th class=l>service</th><th>traces</th><th>traces/s</th><th>err %</th><th>p50 {u50[0]}</th><th>p95 {u95[0]}</th>"
           "<th>tokens in/out</th><th>cost $</th></tr>"]
    for s in services:
        lat = s["trace_latency_ms"]
        out.append(f"<tr><td class=l>{e(s['service'])}</td><td>{s['traces']:,}</td><td>{fmt_rate(s['traces_per_s'])}</td><td>{s['error_rate'] * 100:.1f}</td>"
                   f"<td>{fmt_duration(lat['p50'], u50)}</td><td>{fmt_duration(lat['p95'], u95)}</td><td>{e(fmt_tokens(s))}</td><td>{e(fmt_cost(s))}</td></tr>")
    return "".join(out) + "</table>"


def _slowest(data: dict[str, Any]) -> str:
    slow = data.get("slowest_traces") or []
    if not slow:
        return ""
    u = duration_unit(t["duration_ms"] for t in slow)
    out = [f"<h2>Slowest traces</h2><table><tr><th class=l>trace (click to open)</th><th>duration {u[0]}</th><th class=l>root</th><th class=l>critical path</th></tr>"]
    for t in slow:
        path = " → ".join(f"{p['kind']} {p['name']}" for p in t["critical_path"][:6])
        out.append(f"<tr><td class=l>{_tid(t['trace_id'], data)}</td><td>{fmt_duration(t['duration_ms'], u)}</td><td class=l>{e(t['root'])}</td><td class=l>{e(path)}</td></tr>")
    return "".join(out) + "</table>"


def _errors(data: dict[str, Any]) -> str:
    if not data["errors"]:
        return ""
    out = ["<h2>Top errors</h2><table><tr><th class=l>kind</th><th class=l>name</th><th class=l>error</th><th>count</th><th class=l>trace (click to open)</th><th class=l>log</th></tr>"]
    for x in data["errors"]:
        out.append(f"<tr><td class=l>{e(x['kind'])}</td><td class=l>{e(x['name'])}</td><td class=l>{e(x['error_type'])}</td><td>{x['count']:,}</td>"
                   f"<td class=l>{_tid(x['trace_id'], data)}</td><td class=l>{e(x['log_excerpt'] or '')}</td></tr>")
    return "".join(out) + "</table>"


def _histograms(data: dict[str, Any]) -> str:
    out = ["<h2>Latency distribution</h2><p class='muted legend-note'><span>bars: calls per latency bin (log scale)</span>"
           "<span style='color:#009E73'>── p50</span><span style='color:#E69F00'>- - p95</span><span style='color:#D55E00'>··· p99</span>"
           + ("<span>black dashed outline: baseline</span>" if any(g.get("baseline") for g in data["groups"]) else "") + "</p><div class='grid'>"]
    for g in data["groups"]:  # every group, not the first few
        lat, b = g["latency_ms"], g.get("baseline") or {}
        title = f"{g['kind']} {g['name']}"
        chart = charts.histogram(g.get("histogram"), {"p50": lat.get("p50"), "p95": lat.get("p95"), "p99": lat.get("p99")}, title,
                                 {"p95": b.get("baseline_p95_ms")} if b.get("baseline_p95_ms") is not None else None)
        out.append(f"<div><b>{e(title)}</b> <span class='muted'>{g['count']:,} calls</span><br>{chart}</div>")
    return "".join(out) + "</div>"


def _over_time(data: dict[str, Any]) -> str:
    ts = data.get("timeseries") or {}
    starts, bs = ts.get("bucket_start_ns") or [], ts.get("bucket_seconds") or 0
    if not starts or not bs:
        return ""
    out = [f"<h2>Over time</h2><p class='muted'>{len(starts)} buckets of {bs:,.2f}s over the span of the data</p><div class='grid'>"]
    lat = ts.get("trace_latency_ms")
    if lat:
        unit = duration_unit(v for p in lat.values() for v in p)
        f = unit[1]
        out.append("<div>" + charts.over_time(starts, bs, [(p, [None if v is None else v / f for v in vals]) for p, vals in lat.items()],
                                              "trace latency percentiles", f"trace latency {unit[0]}") + "</div>")
    rate = ts.get("traces_per_s")
    if rate:
        out.append("<div>" + charts.over_time(starts, bs, [("traces/s", rate), ("spans/s", [c / bs for c in ts["calls"]])], "throughput", "per second") + "</div>")
    else:
        out.append("<div>" + charts.over_time(starts, bs, [("spans/s", [c / bs for c in ts["calls"]])], "throughput", "spans per second") + "</div>")
    out.append("<div>" + charts.over_time(starts, bs, [("errors", ts.get("errors") or [])], "errors", f"failed spans per {bs:,.2f}s", integer=True) + "</div>")
    if ts.get("input_tokens") is not None:
        out.append("<div>" + charts.over_time(starts, bs, [("input", ts["input_tokens"]), ("output", ts["output_tokens"])], "tokens", f"tokens per {bs:,.2f}s") + "</div>")
    if ts.get("cost_usd") is not None:
        out.append("<div>" + charts.over_time(starts, bs, [("cost", ts["cost_usd"])], "cost", f"USD per {bs:,.2f}s", fmt=lambda v: f"{v:.3g}") + "</div>")
    return "".join(out) + "</div>"


def render(report: Report | dict[str, Any]) -> str:
    """A self-contained page. It is written from the report's JSON form, which it also embeds for its
    scripts; a dict (a saved report) is read into the model first, so a malformed one is refused."""
    data = as_report(report).to_dict()
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'><title>agent-otel report</title>",
        f"<style>{_CSS}{waterfall.CSS}</style></head><body id='top'>",
        "<h1>agent-otel report</h1>",
        _header(data),
    ]
    if data["recommendations"]:
        parts.append("<h2>Recommendations</h2><ul>" + "".join(f"<li>{e(r)}</li>" for r in data["recommendations"]) + "</ul>")
    parts.append(_services_table(data))
    parts.append("<h2>Calls per kind and name</h2>" + _groups_table(data))
    if data["bottlenecks"]:
        parts.append("<h2>Where the time goes</h2><p class='muted'>share of the critical path over the slowest traces and a sample of the rest</p>")
        parts.append(charts.bars([(f"{b['kind']} {b['name']}", b["share"] * 100) for b in data["bottlenecks"][:12]], "critical-path share", " %"))
    parts.append(conversations_evaluations.html_sections(data, _tid))
    parts.append(_slowest(data))
    parts.append(_errors(data))
    parts.append(_histograms(data))
    parts.append(_over_time(data))
    bits = resource_bits(as_report(report).resources)
    if bits:
        parts.append(f"<h2>Resources</h2><p>{' · '.join(bits)}</p>")
    traces = data.get("traces") or {}
    if traces:
        parts.append("<div id='traces'>" + "".join(waterfall.section(v) for v in traces.values()) + "</div>")
    parts.append(f"<p class='muted'>schema {e(data['schema'])} v{data['version']} · generated {e(data['generated_at'])} · analysed in {data['analysis_seconds']}s</p>")
    slim = {k: v for k, v in data.items() if k not in ("groups", "traces")}
    parts.append(f"<script type='application/json' id='report-data'>{html.escape(json.dumps(slim, default=float))}</script>")
    parts.append(f"<script>{waterfall.SCRIPT}</script></body></html>")
    return "".join(parts)
