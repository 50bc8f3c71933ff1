"""The report as rich tables in the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

_STATUS_STYLE = {"degraded": "bold red", "improved": "green", "stable": "dim", "insufficient_data": "dim"}


def _ms(v: float | None) -> str:
    """Milliseconds as shown; None (a figure the source could not give, e.g. a push-down report's
    trace latency for a service without agent roots) as a dash."""
    if v is None:
        return "–"
    return f"{v:,.1f}" if v < 10_000 else f"{v / 1000:,.1f}s"


def render(data: dict[str, Any], console: Console | None = None) -> None:
    if console is None:
        from agent_otel.cli.common import stdout_console

        console = stdout_console()
    t = data["totals"]
    head = (
        f"[b]{data['source']}[/b] {('service ' + data['service']) if data['service'] else 'all services'} · "
        f"{data['window']['seconds']:,.0f}s window · {t['spans']:,} spans in {t['traces']:,} traces · "
        f"errors {t['error_rate'] * 100:.1f}% · tokens {t['input_tokens']:,} in / {t['output_tokens']:,} out · "
        f"cost ${t['cost_usd']:.4f}"
    )
    if data.get("baseline_label"):
        head += f" · baseline: {data['baseline_label']}"
    console.print(Panel(head, title="agent-otel report", expand=False))

    if len(data.get("services") or []) > 1:
        st = Table(title="Per service")
        for col in ("service", "traces", "/s", "err %", "p50 ms", "p95 ms", "tokens in/out", "cost $"):
            st.add_column(col, justify="left" if col == "service" else "right")
        for s in data["services"]:
            lat = s["trace_latency_ms"]
            st.add_row(s["service"], f"{s['traces']:,}", f"{s['traces_per_s']:.2f}", f"{s['error_rate'] * 100:.1f}", _ms(lat["p50"]), _ms(lat["p95"]),
                       f"{s['input_tokens']:,}/{s['output_tokens']:,}", f"{s['cost_usd']:.4f}")
        console.print(st)

    table = Table(title="Where calls go (per kind and name)", show_lines=False)
    for col in ("kind", "name", "calls", "/s", "err %", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "tokens in/out", "cost $"):
        table.add_column(col, justify="left" if col in ("kind", "name") else "right")
    with_baseline = any("baseline" in g for g in data["groups"])
    if with_baseline:
        table.add_column("p95 vs baseline", justify="right")
    for g in data["groups"]:
        lat = g["latency_ms"]
        row = [
            g["kind"], g["name"], f"{g['count']:,}", f"{g['throughput_per_s']:.2f}",
            f"{g['error_rate'] * 100:.1f}", _ms(lat["p50"]), _ms(lat["p90"]), _ms(lat["p95"]), _ms(lat["p99"]),
            f"{g['input_tokens']:,}/{g['output_tokens']:,}" if g["input_tokens"] or g["output_tokens"] else "",
            f"{g['cost_usd']:.4f}" if g["cost_usd"] else "",
        ]
        if with_baseline:
            b = g.get("baseline") or {}
            pct = b.get("p95_change_pct")
            status = b.get("status", "")
            row.append(f"[{_STATUS_STYLE.get(status, '')}]{'' if pct is None else f'{pct:+.0f}% '}{status}[/]")
        table.add_row(*row)
    console.print(table)

    if data["bottlenecks"]:
        bt = Table(title="Where the time goes (share of the critical path, sampled traces)")
        for col in ("kind", "name", "critical path ms", "share"):
            bt.add_column(col, justify="left" if col in ("kind", "name") else "right")
        for b in data["bottlenecks"][:8]:
            bt.add_row(b["kind"], b["name"], _ms(b["critical_path_ms"]), f"{b['share'] * 100:.1f}%")
        console.print(bt)

    if data["errors"]:
        et = Table(title="Top errors")
        for col in ("kind", "name", "error", "count", "trace id", "log"):
            et.add_column(col)
        for e in data["errors"][:8]:
            et.add_row(e["kind"], e["name"], e["error_type"], str(e["count"]), e["trace_id"], e["log_excerpt"] or "")
        console.print(et)

    res = data["resources"]
    if any(res.get(k) is not None for k in ("cpu_utilization", "memory_rss_bytes", "gpu_utilization")):
        parts = []
        if res.get("cpu_utilization") is not None:
            parts.append(f"CPU {res['cpu_utilization'] * 100:.1f}%")
        if res.get("memory_rss_bytes") is not None:
            parts.append(f"RSS {res['memory_rss_bytes'] / 2**20:.0f} MiB")
        if res.get("gpu_utilization") is not None:
            parts.append(f"GPU {res['gpu_utilization'] * 100:.0f}%")
        console.print("Resources: " + " · ".join(parts))
    inf = res.get("inference") or {}
    if inf:
        bits = []
        if "cache_hit_ratio" in inf:
            bits.append(f"cache hits {inf['cache_hit_ratio'] * 100:.0f}% of {inf['cache_requests']:,.0f}")
        if "mean_batch_size" in inf:
            bits.append(f"{inf['batches']:,.0f} batches, {inf['mean_batch_size']:.1f} requests each")
        console.print("Inference: " + " · ".join(bits))

    if data["recommendations"]:
        console.print(Panel("\n".join(f"• {r}" for r in data["recommendations"]), title="Recommendations", expand=False))
    console.print(f"[dim]analysed in {data['analysis_seconds']:.3f}s[/dim]")
