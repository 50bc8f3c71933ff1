"""Inline SVG charts for the HTML report: histograms, lines over time, horizontal bars.

Hand-written because the report must be one file that fetches nothing: a charting library would
mean a CDN or hundreds of kB of inlined JavaScript. Every chart is `<svg class="chart">` with a
`g.axis.x` and a `g.axis.y` (ticks and labels) and its data drawn as `.mark` elements, which is
what the browser test checks. Colours are the Okabe–Ito palette (distinguishable with the common
colour-vision deficiencies), and series also differ by dash pattern and carry text labels.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence

BLUE, ORANGE, SKY, GREEN, YELLOW, VERMILLION, PURPLE, BLACK = "#0072B2", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#D55E00", "#CC79A7", "#000000"
SERIES = [(BLUE, ""), (ORANGE, "6 3"), (VERMILLION, "2 2"), (GREEN, "8 3 2 3"), (PURPLE, "4 4")]
PAD_L, PAD_R, PAD_T, PAD_B = 56, 14, 22, 34


def e(v: object) -> str:
    return html.escape(str(v))


def nice_ticks(lo: float, hi: float, n: int = 5, *, integer: bool = False, cover: bool = True) -> list[float]:
    """Round tick values from lo up to the first one at or above hi (`cover`), or inside [lo, hi]."""
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if integer:
        step = max(math.ceil(step), 1)
    v = math.floor(lo / step) * step if cover else math.ceil(lo / step) * step
    ticks = []
    while v <= hi + step * 1e-9 or (cover and (not ticks or ticks[-1] < hi)):
        ticks.append(round(v, 10))
        v += step
    return ticks


def num(v: float) -> str:
    """A tick label: 1.2k, 3.5M, 0.25."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:g}M"
    if a >= 1e4:
        return f"{v / 1e3:g}k"
    if a >= 100 or v == int(v):
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _frame(width: int, height: int, kind: str, title: str) -> list[str]:
    return [f'<svg class="chart" data-chart="{kind}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{e(title)}">',
            f"<title>{e(title)}</title>"]


def _y_axis(ticks: list[float], y_of, width: int, label: str, fmt=num) -> str:  # noqa: ANN001
    out = ['<g class="axis y">']
    for t in ticks:
        y = y_of(t)
        out.append(f'<line x1="{PAD_L}" x2="{width - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end">{e(fmt(t))}</text>')
    out.append(f'<text class="label" x="4" y="12">{e(label)}</text></g>')
    return "".join(out)


def _x_axis(ticks: list[tuple[float, str]], height: int, width: int, label: str) -> str:
    y = height - PAD_B
    out = [f'<g class="axis x"><line x1="{PAD_L}" x2="{width - PAD_R}" y1="{y}" y2="{y}" stroke="#444"/>']
    for i, (x, text) in enumerate(ticks):
        anchor = "start" if i == 0 and x - PAD_L < 20 else "end" if i == len(ticks) - 1 and width - PAD_R - x < 20 else "middle"
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{y + 4}" stroke="#444"/><text x="{x:.1f}" y="{y + 16}" text-anchor="{anchor}">{e(text)}</text>')
    out.append(f'<text class="label" x="{width - PAD_R}" y="{height - 2}" text-anchor="end">{e(label)}</text></g>')
    return "".join(out)


def histogram(hist: dict | None, markers: dict[str, float | None], title: str, baseline_markers: dict[str, float | None] | None = None,
              width: int = 380, height: int = 190) -> str:
    """Counts on log-spaced latency bins, p50/p95/p99 lines, the baseline's counts as an outline."""
    if not hist:
        return f'<p class="muted">{e(title)}: no latency samples (a push-down report keeps histograms in Prometheus)</p>'
    edges, counts, base = hist["edges_ms"], hist["counts"], hist.get("baseline_counts")
    lo, hi = math.log10(edges[0]), math.log10(edges[-1])
    pw, ph = width - PAD_L - PAD_R, height - PAD_T - PAD_B

    def x_of(ms: float) -> float:
        return PAD_L + pw * (math.log10(max(ms, edges[0])) - lo) / (hi - lo)

    top = max(max(counts), max(base) if base else 0, 1)
    yt = nice_ticks(0, top, 4, integer=True)
    ymax = max(yt[-1], 1)

    def y_of(c: float) -> float:
        return PAD_T + ph * (1 - c / ymax)

    out = _frame(width, height, "histogram", title)
    out.append(_y_axis(yt, y_of, width, "calls"))
    xt = []
    for d in range(math.floor(lo), math.ceil(hi) + 1):
        for m in (1, 2, 5):
            v = m * 10**d
            if edges[0] <= v <= edges[-1]:
                xt.append((x_of(v), num(v)))
    if len(xt) < 3:  # within a decade: round values on the log axis
        xt = [(x_of(v), num(v)) for v in nice_ticks(edges[0], edges[-1], 4, cover=False)]
    spaced: list[tuple[float, str]] = []
    for x, text in xt:  # labels that would overlap on the compressed end of a log axis are dropped
        own = len(text) if width - PAD_R - x < 20 else len(text) / 2  # the axis end-anchors a label at the right edge
        if not spaced or x - spaced[-1][0] >= 6.5 * (len(spaced[-1][1]) / 2 + own) + 6:
            spaced.append((x, text))
    xt = spaced
    for i, c in enumerate(counts):
        if c:
            x0, x1 = x_of(edges[i]), x_of(edges[i + 1])
            out.append(f'<rect class="mark" x="{x0:.1f}" y="{y_of(c):.1f}" width="{max(x1 - x0 - 1, 1):.1f}" height="{PAD_T + ph - y_of(c):.1f}" fill="{SKY}">'
                       f"<title>{edges[i]:,.1f}–{edges[i + 1]:,.1f} ms: {c:,} calls</title></rect>")
    if base:
        pts = [f"{x_of(edges[0]):.1f},{y_of(0):.1f}"]
        for i, c in enumerate(base):
            pts += [f"{x_of(edges[i]):.1f},{y_of(c):.1f}", f"{x_of(edges[i + 1]):.1f},{y_of(c):.1f}"]
        pts.append(f"{x_of(edges[-1]):.1f},{y_of(0):.1f}")
        out.append(f'<polyline class="mark baseline" fill="none" stroke="{BLACK}" stroke-width="1.5" stroke-dasharray="4 2" points="{" ".join(pts)}"><title>baseline</title></polyline>')
    out.append(_x_axis(xt, height, width, "ms (log scale)"))
    styles = {"p50": (GREEN, "none"), "p95": (ORANGE, "5 3"), "p99": (VERMILLION, "2 2")}
    for i, (name, value) in enumerate((k, v) for k, v in markers.items() if v is not None):
        color, dash = styles.get(name, (BLACK, "none"))
        x = x_of(value)
        right = x > PAD_L + pw * 0.6  # label on the side with room
        out.append(f'<g class="marker" data-marker="{name}"><line x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T - 4}" y2="{PAD_T + ph}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>'
                   f'<text x="{x - 3 if right else x + 3:.1f}" y="{PAD_T + 8 + 11 * i:.1f}" text-anchor="{"end" if right else "start"}" fill="{color}" '
                   f'stroke="#fff" stroke-width="3" paint-order="stroke">{name} {value:,.1f}</text></g>')
    for name, value in (baseline_markers or {}).items():
        if value is not None:
            x = x_of(value)
            out.append(f'<g class="marker" data-marker="baseline-{name}"><line x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" y2="{PAD_T + ph}" stroke="{BLACK}" stroke-width="1" stroke-dasharray="1 3"/>'
                       f'<text x="{x - 2:.1f}" y="{PAD_T + ph - 4}" text-anchor="end">base {name}</text></g>')
    out.append("</svg>")
    return "".join(out)


def _time_label(ns: float, span_s: float) -> str:
    t = dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc)
    return t.strftime("%H:%M:%S") + (f".{t.microsecond // 100_000}" if span_s < 30 else "") if span_s < 2 * 86400 else t.strftime("%m-%d %H:%M")


def over_time(starts_ns: Sequence[int], bucket_s: float, series: list[tuple[str, Sequence[float | None]]], title: str, unit: str,
              width: int = 580, height: int = 200, fmt=num, integer: bool = False) -> str:  # noqa: ANN001
    """Lines over a time axis (UTC clock time); None values break a line."""
    vals = [v for _, ys in series for v in ys if v is not None]
    if not starts_ns or not vals:
        return f'<p class="muted">{e(title)}: nothing in the window</p>'
    mids = [s + bucket_s * 5e8 for s in starts_ns]
    t0, t1 = starts_ns[0], starts_ns[-1] + bucket_s * 1e9
    pw, ph = width - PAD_L - PAD_R, height - PAD_T - PAD_B
    yt = nice_ticks(0, max(max(vals), 1e-9), 4, integer=integer)
    ymax = yt[-1] or 1

    def x_of(ns: float) -> float:
        return PAD_L + pw * (ns - t0) / max(t1 - t0, 1)

    def y_of(v: float) -> float:
        return PAD_T + ph * (1 - v / ymax)

    out = _frame(width, height, "timeseries", title)
    out.append(_y_axis(yt, y_of, width, unit, fmt))
    span_s = (t1 - t0) / 1e9
    out.append(_x_axis([(x_of(t), _time_label(t, span_s)) for t in (t0 + (t1 - t0) * k / 4 for k in range(5))], height, width, "time (UTC)"))
    legend_x = width * 0.42
    for (name, ys), (color, dash) in zip(series, SERIES):
        runs, cur = [], []
        for x, v in zip(mids, ys):
            if v is None:
                if cur:
                    runs.append(cur)
                cur = []
            else:
                cur.append(f"{x_of(x):.1f},{y_of(v):.1f}")
        if cur:
            runs.append(cur)
        for pts in runs:
            if len(pts) == 1:
                x, y = pts[0].split(",")
                out.append(f'<circle class="mark" data-series="{e(name)}" cx="{x}" cy="{y}" r="2.5" fill="{color}"/>')
            else:
                out.append(f'<polyline class="mark" data-series="{e(name)}" fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}" points="{" ".join(pts)}"/>')
        if len(series) > 1:
            out.append(f'<g class="legend"><line x1="{legend_x}" x2="{legend_x + 18}" y1="{PAD_T - 10}" y2="{PAD_T - 10}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>'
                       f'<text x="{legend_x + 22}" y="{PAD_T - 6}">{e(name)}</text></g>')
            legend_x += 30 + 7 * len(name)
    out.append("</svg>")
    return "".join(out)


def bars(items: list[tuple[str, float]], title: str, unit: str, width: int = 760) -> str:
    """Horizontal bars with their category labels on the y axis and a value axis below."""
    if not items:
        return ""
    row, label_w = 22, 230
    height = PAD_T + row * len(items) + PAD_B
    pw = width - label_w - PAD_R - 50
    xt = nice_ticks(0, max(v for _, v in items) or 1, 5)
    top = xt[-1] or 1

    def x_of(v: float) -> float:
        return label_w + pw * v / top

    out = _frame(width, height, "bars", title)
    out.append('<g class="axis y">' + "".join(f'<text x="{label_w - 6}" y="{PAD_T + i * row + 15}" text-anchor="end">{e(label[:36])}</text>' for i, (label, _) in enumerate(items)) + "</g>")
    for i, (label, v) in enumerate(items):
        y = PAD_T + i * row + 3
        out.append(f'<rect class="mark" x="{label_w}" y="{y}" width="{max(x_of(v) - label_w, 1):.1f}" height="16" fill="{BLUE}"><title>{e(label)}: {v:,.1f}{e(unit)}</title></rect>'
                   f'<text x="{x_of(v) + 4:.1f}" y="{y + 12}">{v:,.1f}{e(unit)}</text>')
    y_axis_end = PAD_T + row * len(items)
    ticks = "".join(f'<line x1="{x_of(t):.1f}" x2="{x_of(t):.1f}" y1="{y_axis_end}" y2="{y_axis_end + 4}" stroke="#444"/><text x="{x_of(t):.1f}" y="{y_axis_end + 16}" text-anchor="middle">{num(t)}</text>' for t in xt)
    out.append(f'<g class="axis x"><line x1="{label_w}" x2="{x_of(top):.1f}" y1="{y_axis_end}" y2="{y_axis_end}" stroke="#444"/>{ticks}'
               f'<text class="label" x="{x_of(top):.1f}" y="{height - 2}" text-anchor="end">{e(unit.strip() or "value")}</text></g></svg>')
    return "".join(out)
