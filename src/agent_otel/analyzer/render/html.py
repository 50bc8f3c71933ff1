"""The report as one self-contained HTML file: tables plus inline SVG charts, no JavaScript, no CDN."""

from __future__ import annotations

import html
import json
from typing import Any

import numpy as np

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right}
th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}
.degraded{color:#c00;font-weight:bold}.improved{color:#080}.stable{color:#888}
h2{margin-top:1.6em}.muted{color:#777;font-size:13px}svg text{font-size:11px}
"""


def _e(v: Any) -> str:
    return html.escape(str(v))


def _bars(items: list[tuple[str, float]], unit: str, width: int = 720, color: str = "#4a7bd0") -> str:
    if not items:
        return ""
    top = max(v for _, v in items) or 1.0
    row = 22
    out = [f'<svg width="{width}" height="{row * len(items) + 10}" role="img">']
    for i, (label, value) in enumerate(items):
        w = (width - 320) * value / top
        y = i * row + 4
        out.append(f'<text x="0" y="{y + 14}">{_e(label[:40])}</text>')
        out.append(f'<rect x="260" y="{y}" width="{w:.1f}" height="16" fill="{color}"/>')
        out.append(f'<text x="{265 + w:.1f}" y="{y + 13}">{value:,.1f}{unit}</text>')
    out.append("</svg>")
    return "".join(out)


def _histogram(samples: list[float], width: int = 360, height: int = 120) -> str:
    if len(samples) < 2:
        return ""
    values = np.log10(np.maximum(np.asarray(samples), 1e-3))
    counts, edges = np.histogram(values, bins=20)
    top = counts.max() or 1
    bw = width / len(counts)
    out = [f'<svg width="{width}" height="{height + 18}" role="img">']
    for i, c in enumerate(counts):
        h = height * c / top
        out.append(f'<rect x="{i * bw:.1f}" y="{height - h:.1f}" width="{bw - 1:.1f}" height="{h:.1f}" fill="#6a9"/>')
    out.append(f'<text x="0" y="{height + 14}">{10 ** edges[0]:,.1f} ms</text>')
    out.append(f'<text x="{width - 70}" y="{height + 14}">{10 ** edges[-1]:,.0f} ms</text></svg>')
    return "".join(out)


def _series(ts: dict[str, Any], width: int = 720, height: int = 120) -> str:
    calls = ts.get("calls") or []
    if not calls:
        return ""
    top = max(calls) or 1
    step = width / max(len(calls) - 1, 1)
    pts = " ".join(f"{i * step:.1f},{height - height * c / top:.1f}" for i, c in enumerate(calls))
    errs = " ".join(f"{i * step:.1f},{height - height * c / top:.1f}" for i, c in enumerate(ts.get("errors") or []))
    return (
        f'<svg width="{width}" height="{height + 18}" role="img"><polyline fill="none" stroke="#4a7bd0" stroke-width="2" points="{pts}"/>'
        f'<polyline fill="none" stroke="#c33" stroke-width="2" points="{errs}"/>'
        f'<text x="0" y="{height + 14}">spans (blue) and errors (red) per {ts.get("bucket_seconds", 0):.1f}s; peak {top:,}</text></svg>'
    )


def render(data: dict[str, Any]) -> str:
    t = data["totals"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>agent-otel report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>agent-otel report</h1>",
        f"<p>{_e(data['source'])} · {_e(data['service'] or 'all services')} · {data['window']['seconds']:,.0f}s window · "
        f"{t['spans']:,} spans · {t['traces']:,} traces · error rate {t['error_rate'] * 100:.1f}% · "
        f"tokens {t['input_tokens']:,}/{t['output_tokens']:,} · cost ${t['cost_usd']:.4f}"
        + (f" · baseline {_e(data['baseline_label'])}" if data.get("baseline_label") else "")
        + "</p>",
    ]
    if data["recommendations"]:
        parts.append("<h2>Recommendations</h2><ul>" + "".join(f"<li>{_e(r)}</li>" for r in data["recommendations"]) + "</ul>")
    parts.append("<h2>Calls per kind and name</h2><table><tr><th>kind</th><th>name</th><th>calls</th><th>/s</th><th>err %</th>"
                 "<th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>tokens in/out</th><th>cost $</th><th>vs baseline</th></tr>")
    for g in data["groups"]:
        lat, b = g["latency_ms"], g.get("baseline") or {}
        pct = b.get("p95_change_pct")
        parts.append(
            f"<tr><td>{_e(g['kind'])}</td><td>{_e(g['name'])}</td><td>{g['count']:,}</td><td>{g['throughput_per_s']:.2f}</td>"
            f"<td>{g['error_rate'] * 100:.1f}</td><td>{lat['p50']:,.1f}</td><td>{lat['p95']:,.1f}</td><td>{lat['p99']:,.1f}</td>"
            f"<td>{g['input_tokens']:,}/{g['output_tokens']:,}</td><td>{g['cost_usd']:.4f}</td>"
            f"<td class='{_e(b.get('status', ''))}'>{'' if pct is None else f'{pct:+.0f}% '}{_e(b.get('status', ''))}</td></tr>"
        )
    parts.append("</table>")
    parts.append("<h2>Critical-path breakdown</h2>")
    parts.append(_bars([(f"{b['kind']} {b['name']}", b["share"] * 100) for b in data["bottlenecks"][:12]], "%"))
    parts.append("<h2>Latency distribution (log scale)</h2><div>")
    for g in data["groups"][:6]:
        parts.append(f"<div style='display:inline-block;margin:0 1em 1em 0'><b>{_e(g['kind'])} {_e(g['name'])}</b><br>{_histogram(g.get('latency_samples_ms') or [])}</div>")
    parts.append("</div><h2>Over time</h2>" + _series(data.get("timeseries") or {}))
    if data["errors"]:
        parts.append("<h2>Top errors</h2><table><tr><th>kind</th><th>name</th><th>error</th><th>count</th><th>trace</th><th>log</th></tr>")
        for e in data["errors"]:
            parts.append(f"<tr><td>{_e(e['kind'])}</td><td>{_e(e['name'])}</td><td>{_e(e['error_type'])}</td><td>{e['count']}</td>"
                         f"<td><code>{_e(e['trace_id'])}</code></td><td style='text-align:left'>{_e(e['log_excerpt'] or '')}</td></tr>")
        parts.append("</table>")
    parts.append(f"<p class='muted'>schema {_e(data['schema'])} v{data['version']} · generated {_e(data['generated_at'])} · analysed in {data['analysis_seconds']}s</p>")
    parts.append(f"<script type='application/json' id='report-data'>{html.escape(json.dumps({k: v for k, v in data.items() if k != 'groups'}, default=float))}</script>")
    parts.append("</body></html>")
    return "".join(parts)
