"""`agent-otel trace ID`: one trace as a waterfall, from the local store or the stack (Jaeger + Loki)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from agent_otel.analyzer.render.console import write_output
from agent_otel.cli.common import FORMAT, JAEGER, OUTPUT, SOURCE, STORE, fail, source_options, user_errors


def trace(
    trace_id: str = typer.Argument(..., help="The trace id (32 hex digits) as a report shows it."),
    source: str = SOURCE,
    store: Optional[str] = STORE,
    jaeger: Optional[str] = JAEGER,
    loki: Optional[str] = typer.Option(None, help="Loki URL (stack source): the trace's log lines."),
    fmt: str = FORMAT,
    output: Optional[Path] = OUTPUT,
    header: Optional[list[str]] = typer.Option(None, help="'Name: value' sent to every backend (repeatable). Never printed."),
) -> None:
    """Show one trace: span tree on a time axis, critical path, tokens, errors, events and log lines."""
    from agent_otel.analyzer.trace import load_trace

    if fmt not in ("terminal", "json", "html"):
        fail(f"--format {fmt!r}: expected terminal, json or html")
    with user_errors():
        src = source_options(source, store=store, jaeger=jaeger, prometheus=None, loki=loki, headers=header)
        view = load_trace(src, trace_id)
    if fmt == "terminal":
        from agent_otel.analyzer.render.trace_terminal import render

        render(view)
        return
    if fmt == "json":
        text = json.dumps(view, indent=2, default=str)
    else:
        from agent_otel.analyzer.render.waterfall import page

        text = page(view)
    write_output(text, output)
