"""`agent-otel report`: a performance report of a time window, from the local store or the stack."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from agent_otel.cli.common import FORMAT, JAEGER, OUTPUT, SOURCE, STORE, fail, source_options, user_errors

err = Console(stderr=True)


def report(
    since: str = typer.Option("1h", help="Window: the last 90s, 15m, 1h, 2d..."),
    baseline: Optional[str] = typer.Option(None, help="Baseline window FROM..TO (e.g. 24h..1h) or a saved baseline file."),
    save_baseline: Optional[Path] = typer.Option(None, help="Save this report as a baseline file for later comparisons."),
    service: Optional[str] = typer.Option(None, help="Only this service.name."),
    fmt: str = FORMAT,
    output: Optional[Path] = OUTPUT,
    source: str = SOURCE,
    store: Optional[str] = STORE,
    prices: Optional[Path] = typer.Option(None, help="Price table (YAML/JSON: model -> {input, output} USD per 1M tokens)."),
    jaeger: Optional[str] = JAEGER,
    prometheus: Optional[str] = typer.Option(None, help="Prometheus URL (stack source)."),
    loki: Optional[str] = typer.Option(None, help="Loki URL (stack source)."),
    pushdown: str = typer.Option("auto", help="Stack source: compute figures in Prometheus/Loki (always), from raw Jaeger spans (never), or by window size (auto)."),
    keep_overlap: bool = typer.Option(False, "--keep-overlap", help="Keep the part of the window the baseline also covers (default: the window starts at the baseline's end); the report says how much overlaps."),
    conversation: Optional[str] = typer.Option(None, help="Only this conversation (gen_ai.conversation.id): its turns, latency per turn, tokens, cost, errors."),
    header: Optional[list[str]] = typer.Option(None, help="'Name: value' sent to every backend (repeatable; per backend: AGENT_OTEL_JAEGER_HEADERS, _PROMETHEUS_, _LOKI_). Never printed."),
) -> None:
    """Report call counts, latency percentiles, errors, tokens, cost and bottlenecks of a window."""
    from agent_otel.cli.run import make_report, write_report

    if fmt not in ("terminal", "json", "html"):
        fail(f"--format {fmt!r}: expected terminal, json or html")
    with user_errors(), _pointing_at_the_data():
        src = source_options(source, store=store, jaeger=jaeger, prometheus=prometheus, loki=loki, headers=header)
        rep = make_report(src, since=since, baseline=baseline, service=service, prices=prices, console=err, pushdown=pushdown, keep_overlap=keep_overlap,
                          conversation=conversation)
        write_report(rep, fmt, output, save_baseline)


@contextlib.contextmanager
def _pointing_at_the_data() -> Iterator[None]:
    """A missing store or an empty window: say where data was last written and the command that reads it."""
    from agent_otel.errors import NoDataError
    from agent_otel.stack.discovery import where_to_look

    try:
        yield
    except NoDataError as exc:
        fail(f"{exc}; {where_to_look()}")
