"""One trace in the terminal: an indented waterfall (rich table), each span with its start, duration
and a bar on the trace's time axis (critical path in bold), kind, model, tokens and error, and
under it the span's events and log lines."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from agent_otel.analyzer.render.units import duration_unit, fmt_duration, fmt_tokens

BAR = 32  # characters of the time axis
_SEVERITY_STYLE = {"ERROR": "red", "FATAL": "bold red", "CRITICAL": "bold red", "WARNING": "yellow", "WARN": "yellow"}


def _bar(offset_ms: float, duration_ms: float, total_ms: float, style: str) -> Text:
    total = max(total_ms, 1e-9)
    start = min(int(offset_ms / total * BAR), BAR - 1)
    width = max(1, round(duration_ms / total * BAR))
    width = min(width, BAR - start)
    return Text.assemble((" " * start, ""), ("█" * width, style), (" " * (BAR - start - width), ""), ("│", "dim"))


def _line(depth: int, severity: str | None, text: str, at: str) -> Text:
    sev = (severity or "LOG").upper()
    return Text.assemble(("  " * (depth + 1) + "│ ", "dim"), (f"{sev:<5} ", _SEVERITY_STYLE.get(sev, "dim")), (text, "" if sev in _SEVERITY_STYLE else "dim"), (f"  @{at}", "dim"))


def _event_text(e: dict[str, Any]) -> str:
    etype, msg = e["attributes"].get("exception.type") or "", e["attributes"].get("exception.message") or ""
    return f"{e['name']} {etype}: {msg}" if etype else e["name"]


def render(view: dict[str, Any], console: Console | None = None) -> None:
    if console is None:
        from agent_otel.analyzer.render.console import stdout_console

        console = stdout_console()
    unit = duration_unit([view["duration_ms"]])
    head = (
        f"[b]trace {view['trace_id']}[/b] · {fmt_duration(view['duration_ms'], unit)} {unit[0]} · "
        f"{view['span_count']:,} spans · {', '.join(view['services']) or 'no service'} · "
        + (f"[red]{view['errors']} failed span(s)[/red]" if view["errors"] else "no errors")
    )
    console.print(Panel(head, expand=False))
    labels = [Text.assemble(("  " * s["depth"], ""), (f"{s['kind']} ", "dim"), (s["target"] or s["name"], "bold" if s["critical_path_ms"] is not None else ""))
              for s in view["spans"]]
    for s, label in zip(view["spans"], labels):
        if s.get("span_kind") and s["span_kind"] != "INTERNAL":
            label.append(f" [{s['span_kind'].lower()}]", "dim")
    w = min(max((len(t) for t in labels), default=10), 60)
    nums = [(fmt_duration(s["offset_ms"], unit), fmt_duration(s["duration_ms"], unit)) for s in view["spans"]]
    nw = max([len(f"start {unit[0]}"), len(f"duration {unit[0]}")] + [max(len(a), len(b)) for a, b in nums])
    mw = max([len("model")] + [len(s["model"] or "") for s in view["spans"]])
    tw = max([len("tokens in/out")] + [len(fmt_tokens(s)) for s in view["spans"]])
    axis = f"0 … {fmt_duration(view['duration_ms'], unit)} {unit[0]}"
    console.print(Text.assemble(
        ("span".ljust(w), "bold"), " ", (f"start {unit[0]}".rjust(nw), "bold"), " ", (f"duration {unit[0]}".rjust(nw), "bold"), " ",
        (axis.ljust(BAR + 1), "bold"), " ", ("model".ljust(mw), "bold"), " ", ("tokens in/out".rjust(tw), "bold"), " ", ("error", "bold"),
    ), no_wrap=True, overflow="ellipsis")
    for s, label, (start, dur) in zip(view["spans"], labels, nums):
        critical = s["critical_path_ms"] is not None
        style = ("bold red" if s["error"] else "bold cyan") if critical else ("red" if s["error"] else "grey50")
        label.truncate(w, overflow="ellipsis", pad=True)
        console.print(Text.assemble(
            label, " ", start.rjust(nw), " ", dur.rjust(nw), " ", _bar(s["offset_ms"], s["duration_ms"], view["duration_ms"], style), " ",
            (s["model"] or "").ljust(mw), " ", fmt_tokens(s).rjust(tw), " ", (s["error_type"] or ("error" if s["error"] else ""), "red"),
        ), no_wrap=True, overflow="ellipsis")
        notes = [(e["offset_ms"], "EVENT", _event_text(e)) for e in s["events"]] + [(x["offset_ms"], x["severity"], x["body"]) for x in s["logs"]]
        for at, severity, text in sorted(notes, key=lambda n: n[0]):  # events and log lines in the order they happened
            console.print(_line(s["depth"], severity, text, fmt_duration(at, unit) + " " + unit[0]))
    for line in view["logs"]:
        console.print(_line(-1, line["severity"], line["body"], fmt_duration(line["offset_ms"], unit) + " " + unit[0]))
    console.print(Text.assemble(("█", "bold cyan"), " on the critical path  ", ("█", "grey50"), " off it  ", ("█", "bold red"), " failed"))
    if view["truncated"]:
        console.print(f"[yellow]showing the first {len(view['spans']):,} of {view['span_count']:,} spans[/yellow]")
