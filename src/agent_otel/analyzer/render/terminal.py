"""The report as rich tables in the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from agent_otel.analyzer.model import Report, Totals
from agent_otel.analyzer.render.units import duration_unit, fmt_cost, fmt_duration, fmt_rate, fmt_tokens, resource_bits

_STATUS_STYLE = {"degraded": "bold red", "improved": "green", "stable": "dim", "insufficient_data": "dim"}


def as_report(data: Report | dict[str, Any]) -> Report:
    """The typed report; a report's JSON (a saved file) is read into the model, checked on the way."""
    return data if isinstance(data, Report) else Report.from_dict(data)


def window_line(rep: Report) -> str:
    """The window asked for and the span the data covers (rates are per second of the latter)."""
    w = rep.window
    return f"{w.seconds:,.0f}s window (data over {w.data_seconds:,.1f}s; rates per second of that)"


def totals_cost(t: Totals) -> str:
    """Total cost, with the tokens of unpriced models named rather than counted as $0."""
    text = f"cost ${t.cost_usd:.4f}"
    if t.unpriced_tokens or t.unpriced_models:
        text += f" + unpriced {t.unpriced_tokens or 0:,} tok ({', '.join(t.unpriced_models or [])})"
    return text


def render(data: Report | dict[str, Any], console: Console | None = None) -> None:
    if console is None:
        from agent_otel.analyzer.render.console import stdout_console

        console = stdout_console()
    rep = as_report(data)
    t = rep.totals
    head = (
        f"[b]{rep.source}[/b] {('service ' + rep.service) if rep.service else 'all services'} · "
        f"{window_line(rep)} · {t.spans:,} spans in {t.traces:,} traces · "
        f"errors {t.error_rate * 100:.1f}% · tokens {t.input_tokens:,} in / {t.output_tokens:,} out · "
        f"{totals_cost(t)}"
    )
    if rep.baseline_label:
        head += f" · baseline: {rep.baseline_label}"
    console.print(Panel(head, title="agent-otel report", expand=False))

    if len(rep.services) > 1:
        st = Table(title="Per service")
        u50 = duration_unit(s.trace_latency_ms.p50 for s in rep.services)
        u95 = duration_unit(s.trace_latency_ms.p95 for s in rep.services)
        for col in ("service", "traces", "traces/s", "err %", f"p50 {u50[0]}", f"p95 {u95[0]}", "tokens in/out", "cost $"):
            st.add_column(col, justify="left" if col == "service" else "right")
        for s in rep.services:
            lat = s.trace_latency_ms
            st.add_row(s.service, f"{s.traces:,}", fmt_rate(s.traces_per_s), f"{s.error_rate * 100:.1f}", fmt_duration(lat.p50, u50),
                       fmt_duration(lat.p95, u95), fmt_tokens(s), fmt_cost(s))
        console.print(st)

    table = Table(title="Where calls go (per kind and name)", show_lines=False)
    units = {p: duration_unit(getattr(g.latency_ms, p) for g in rep.groups) for p in ("p50", "p90", "p95", "p99")}
    for col in ("kind", "name", "calls", "calls/s", "err %", *(f"{p} {u[0]}" for p, u in units.items()), "tokens in/out", "cost $"):
        table.add_column(col, justify="left" if col in ("kind", "name") else "right")
    with_baseline = any(g.baseline for g in rep.groups)
    if with_baseline:
        table.add_column("p95 vs baseline", justify="right")
    for g in rep.groups:
        row = [
            g.kind, g.name, f"{g.count:,}", fmt_rate(g.throughput_per_s),
            f"{g.error_rate * 100:.1f}", *(fmt_duration(getattr(g.latency_ms, p), u) for p, u in units.items()),
            fmt_tokens(g) + (" ∑" if g.tokens_scope == "rolled_up" else ""), fmt_cost(g),
        ]
        if with_baseline:
            pct, status = (g.baseline.p95_change_pct, g.baseline.status) if g.baseline else (None, "")
            row.append(f"[{_STATUS_STYLE.get(status, '')}]{'' if pct is None else f'{pct:+.0f}% '}{status}[/]")
        table.add_row(*row)
    console.print(table)
    if any(g.tokens_scope == "rolled_up" for g in rep.groups):
        console.print("[dim]∑ an agent's row sums the tokens and cost of the model calls it made (down to the next agent)[/dim]")

    if rep.bottlenecks:
        bt = Table(title="Where the time goes (share of the critical path, sampled traces)")
        cu = duration_unit(b.critical_path_ms for b in rep.bottlenecks[:8])
        for col in ("kind", "name", f"critical path {cu[0]}", "share %"):
            bt.add_column(col, justify="left" if col in ("kind", "name") else "right")
        for b in rep.bottlenecks[:8]:
            bt.add_row(b.kind, b.name, fmt_duration(b.critical_path_ms, cu), f"{b.share * 100:.1f}")
        console.print(bt)

    if rep.errors:
        et = Table(title="Top errors")
        for col in ("kind", "name", "error", "count", "trace id", "log"):
            et.add_column(col)
        for e in rep.errors[:8]:
            et.add_row(e.kind, e.name, e.error_type, str(e.count), e.trace_id or "", e.log_excerpt or "")
        console.print(et)
        console.print("[dim]open one: agent-otel trace <trace id>[/dim]")

    res = rep.resources
    if resource_bits(res):
        console.print("Resources: " + " · ".join(resource_bits(res)))
    inf = res.inference
    if inf:
        bits = []
        if "cache_hit_ratio" in inf:
            bits.append(f"cache hits {inf['cache_hit_ratio'] * 100:.0f}% of {inf['cache_requests']:,.0f}")
        if "mean_batch_size" in inf:
            bits.append(f"{inf['batches']:,.0f} batches, {inf['mean_batch_size']:.1f} requests each")
        console.print("Inference: " + " · ".join(bits))

    from agent_otel.analyzer.render import conversations_evaluations

    conversations_evaluations.terminal(rep.to_dict(with_samples=False), console)
    if rep.recommendations:
        console.print(Panel("\n".join(f"• {r}" for r in rep.recommendations), title="Recommendations", expand=False))
    console.print(f"[dim]analysed in {rep.analysis_seconds:.3f}s[/dim]")
