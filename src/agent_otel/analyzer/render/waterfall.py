"""One trace as an HTML waterfall: the span tree on a time axis (SVG), critical path highlighted,
and under it each span's attributes, events, captured content and log lines (`<details>`).

`section()` is embedded in the report (hidden until its trace id is clicked); `page()` is the
same waterfall as a standalone file (`agent-otel trace ID --format html`).
"""

from __future__ import annotations

import json
from typing import Any

from agent_otel.analyzer.render.charts import BLUE, SKY, VERMILLION, e, nice_ticks, num
from agent_otel.analyzer.render.units import duration_unit, fmt_duration, fmt_tokens

ROW = 20
LABEL_W = 300
WIDTH = 1100


def anchor(trace_id: str) -> str:
    return f"trace-{trace_id}"


def _svg(view: dict[str, Any]) -> str:
    spans = view["spans"]
    total = max(view["duration_ms"], 1e-6)
    unit = duration_unit([total])
    pw = WIDTH - LABEL_W - 70
    ticks = nice_ticks(0, total / unit[1], 5)
    scale_top = max(ticks[-1] * unit[1], total)
    height = 34 + ROW * len(spans) + 6

    def x_of(ms: float) -> float:
        return LABEL_W + pw * ms / scale_top

    out = [f'<svg class="chart waterfall" data-chart="waterfall" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
           f'aria-label="waterfall of trace {e(view["trace_id"])}">']
    out.append('<g class="axis x">' + "".join(
        f'<line x1="{x_of(t * unit[1]):.1f}" x2="{x_of(t * unit[1]):.1f}" y1="22" y2="{height}" stroke="#e4e4e4"/>'
        f'<text x="{x_of(t * unit[1]):.1f}" y="16" text-anchor="middle">{num(t)}</text>' for t in ticks)
        + f'<text class="label" x="4" y="16">time since trace start ({unit[0]})</text></g>')
    out.append('<g class="axis y">')
    for i, s in enumerate(spans):
        y = 30 + i * ROW
        label = f"{s['kind']} {s['target'] or s['name']}"
        bold = ' font-weight="bold"' if s["critical_path_ms"] is not None else ""
        out.append(f'<a href="#span-{e(s["span_id"])}"><text x="{4 + 12 * s["depth"]}" y="{y + 13}"{bold}>{e(label[:44 - s["depth"]])}</text></a>')
    out.append("</g>")
    for i, s in enumerate(spans):
        y = 30 + i * ROW
        critical = s["critical_path_ms"] is not None
        x0, w = x_of(s["offset_ms"]), max(x_of(s["offset_ms"] + s["duration_ms"]) - x_of(s["offset_ms"]), 1.5)
        fill, opacity = (BLUE, 1) if critical else (SKY, 0.55)
        stroke = f' stroke="{VERMILLION}" stroke-width="2.5"' if s["error"] else ""
        tip = f"{label_of(s)}: {fmt_duration(s['duration_ms'], unit)} {unit[0]} at +{fmt_duration(s['offset_ms'], unit)}" + (" · on the critical path" if critical else "") + (f" · {s['error_type'] or 'error'}" if s["error"] else "")
        out.append(f'<a href="#span-{e(s["span_id"])}"><rect class="mark span{" critical" if critical else ""}{" error" if s["error"] else ""}" x="{x0:.1f}" y="{y + 2}" '
                   f'width="{w:.1f}" height="{ROW - 5}" fill="{fill}" fill-opacity="{opacity}"{stroke}><title>{e(tip)}</title></rect></a>')
        text = f"{fmt_duration(s['duration_ms'], unit)} {unit[0]}" + (" ✕ " + (s["error_type"] or "error") if s["error"] else "")
        red = f' fill="{VERMILLION}"' if s["error"] else ""
        out.append(f'<text x="{x0 + w + 4:.1f}" y="{y + 13}"{red}>{e(text)}</text>')
    out.append("</svg>")
    return "".join(out)


def label_of(s: dict[str, Any]) -> str:
    return f"{s['kind']} {s['target'] or s['name']}"


def _kv(items: dict[str, Any]) -> str:
    if not items:
        return ""
    return "<table class='kv'>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v if isinstance(v, str) else json.dumps(v, default=str))}</td></tr>" for k, v in items.items()) + "</table>"


def _details(s: dict[str, Any], unit: tuple[str, float]) -> str:
    head = (f"{'  ' * 0}{e(label_of(s))} · {fmt_duration(s['duration_ms'], unit)} {unit[0]} · self {fmt_duration(s['self_ms'], unit)} {unit[0]}"
            + (f" · critical path {fmt_duration(s['critical_path_ms'], unit)} {unit[0]}" if s["critical_path_ms"] is not None else "")
            + (f" · {e(s['model'])}" if s["model"] else "") + (f" · tokens {fmt_tokens(s)}" if fmt_tokens(s) else "")
            + (f" · <span class='err'>✕ {e(s['error_type'] or 'error')}</span>" if s["error"] else ""))
    body = [f"<p class='muted'>span {e(s['span_id'])}{' · ' + e(s['span_kind']) if s.get('span_kind') else ''} · {e(s['name'])} · service {e(s['service'] or '?')}</p>"]
    if s["attributes"]:
        body.append("<h4>Attributes</h4>" + _kv(s["attributes"]))
    if s["content"]:
        body.append("<h4>Captured content</h4>" + "".join(f"<div><b>{e(k)}</b><pre>{e(v if isinstance(v, str) else json.dumps(v, default=str))}</pre></div>" for k, v in s["content"].items()))
    if s["events"]:
        body.append("<h4>Events</h4><ul>" + "".join(f"<li>+{fmt_duration(ev['offset_ms'], unit)} {unit[0]} <b>{e(ev['name'])}</b>{_kv(ev['attributes'])}</li>" for ev in s["events"]) + "</ul>")
    if s["logs"]:
        body.append("<h4>Logs</h4>" + _logs(s["logs"], unit))
    opened = " open" if s["error"] else ""  # a failed span shows its events and log lines without a click
    return f"<details id='span-{e(s['span_id'])}' class='span-detail' style='margin-left:{s['depth'] * 14}px'{opened}><summary>{head}</summary>{''.join(body)}</details>"


def _logs(lines: list[dict[str, Any]], unit: tuple[str, float]) -> str:
    return "<ul class='logs'>" + "".join(
        f"<li class='sev-{e((line['severity'] or 'log').lower())}'><code>+{fmt_duration(line['offset_ms'], unit)} {unit[0]} {e(line['severity'] or 'LOG')}</code> {e(line['body'])}</li>"
        for line in lines) + "</ul>"


def section(view: dict[str, Any]) -> str:
    """The waterfall of one trace, as a report section with id `trace-<id>`."""
    unit = duration_unit([view["duration_ms"]])
    head = (f"<h3>Trace <code>{e(view['trace_id'])}</code></h3><p>{fmt_duration(view['duration_ms'], unit)} {unit[0]} · {view['span_count']:,} spans · "
            f"{e(', '.join(view['services']))} · {'<span class=err>' + str(view['errors']) + ' failed span(s)</span>' if view['errors'] else 'no errors'}"
            f" · <span class='key crit'></span> critical path <span class='key off'></span> off it <span class='key fail'></span> failed"
            f" · <a href='#top' class='close'>close</a></p>")
    parts = [f"<section class='trace' id='{anchor(view['trace_id'])}'>", head, _svg(view)]
    if view["truncated"]:
        parts.append(f"<p class='muted'>showing the first {len(view['spans']):,} of {view['span_count']:,} spans</p>")
    parts.append("<div class='spans'>" + "".join(_details(s, unit) for s in view["spans"]) + "</div>")
    if view["logs"]:
        parts.append("<h4>Logs of the trace not tied to a span</h4>" + _logs(view["logs"], unit))
    parts.append("</section>")
    return "".join(parts)


CSS = """
.trace{display:none;border-top:3px solid #0072B2;margin-top:1.5em;padding-top:.5em}
.trace.open,.trace:target{display:block}
.trace svg text{font-size:11px}
.span-detail{margin:2px 0;font-size:13px}.span-detail summary{cursor:pointer}
.span-detail h4{margin:.4em 0 .2em;font-size:13px}
table.kv{font-size:12px;margin:.2em 0}table.kv th,table.kv td{text-align:left;padding:1px 8px;vertical-align:top;word-break:break-word;white-space:pre-wrap}
table.kv th{white-space:nowrap}
pre{white-space:pre-wrap;background:#f5f5f5;padding:6px;font-size:12px;max-height:20em;overflow:auto}
.err{color:#D55E00;font-weight:bold}ul.logs{font-size:12px;padding-left:1em}.sev-error,.sev-fatal{color:#D55E00}
.key{display:inline-block;width:14px;height:10px;margin:0 3px}.key.crit{background:#0072B2}.key.off{background:#56B4E9;opacity:.55}
.key.fail{border:2.5px solid #D55E00;height:6px;width:10px}
@media print{.trace{display:block;page-break-before:always}.close{display:none}details>*{display:block}}
"""

SCRIPT = """
(function(){
  function show(){
    var id=decodeURIComponent(location.hash.slice(1)); if(!id) return;
    var el=document.getElementById(id); if(!el) return;
    var t=el.closest('.trace'); if(!t) return;
    document.querySelectorAll('.trace.open').forEach(function(o){ if(o!==t) o.classList.remove('open'); });
    t.classList.add('open');
    if(el.tagName==='DETAILS') el.open=true;
    el.scrollIntoView();
  }
  window.addEventListener('hashchange', show);
  document.addEventListener('click', function(ev){
    var a=ev.target.closest && ev.target.closest('a.close');
    if(a){ var t=a.closest('.trace'); if(t) t.classList.remove('open'); }
  });
  show();
})();
"""


def page(view: dict[str, Any]) -> str:
    """A standalone HTML file with one trace, opened."""
    return ("<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
            f"<title>trace {e(view['trace_id'])}</title><style>body{{font-family:system-ui,sans-serif;margin:1.5em;color:#222}}{CSS}.trace{{display:block}}</style></head>"
            f"<body id='top'>{section(view)}<script>{SCRIPT}</script></body></html>")
