"""Make and write a report the way the CLI commands do (shared by `report` and `demo`)."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from agent_otel.analyzer.pricing import load_prices
from agent_otel.analyzer.report import Baseline, Report, build_report
from agent_otel.analyzer.sources.base import Source
from agent_otel.analyzer.timewindow import baseline_window, window

PUSHDOWN_SPANS = 50_000  # above this many spans in the window, a stack report is computed in the backends


def make_report(
    source: Source,
    *,
    since: str | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    baseline: str | None = None,
    service: str | None = None,
    prices: Path | str | None = None,
    console: Console | None = None,
    pushdown: str = "auto",
) -> Report:
    """Report of `since` (or [start_ns, end_ns)) with a baseline window/file; progress on `console`.

    pushdown: for the stack source, "always" computes the figures in Prometheus/Loki and fetches
    only the traces it explains; "never" pulls raw spans from Jaeger; "auto" pushes down when the
    window holds more than PUSHDOWN_SPANS spans (and no baseline needs latency samples)."""
    console = console or Console(stderr=True)
    if start_ns is None or end_ns is None:
        start_ns, end_ns = window(since or "1h")
    if pushdown not in ("auto", "always", "never"):
        raise ValueError(f"--pushdown {pushdown!r}: expected auto, always or never")
    base = None
    price_table = load_prices(prices)
    if source.name == "stack" and pushdown != "never":
        from agent_otel.analyzer.pushdown import build_pushdown_report, estimated_spans

        if pushdown == "always" and baseline:
            raise ValueError("--baseline compares latency samples: use it with --pushdown never or auto")
        if pushdown == "always" or (not baseline and estimated_spans(source, start_ns, end_ns, service) > PUSHDOWN_SPANS):
            with console.status("analysing in the backends...") as status:
                return build_pushdown_report(source, start_ns, end_ns, service=service, prices=price_table, progress=lambda m: status.update(f"{m}..."))
    with console.status("analysing...") as status:
        progress = lambda msg: status.update(f"{msg}...")  # noqa: E731
        if baseline:
            if Path(baseline).exists() or baseline.endswith(".json"):
                base = Baseline.load(baseline)
            else:
                b_start, b_end = baseline_window(baseline, end_ns)
                progress(f"reading baseline {baseline}")
                base = Baseline.from_frame(f"window {baseline}", source.spans(b_start, b_end, service), source.resources(b_start, b_end, service))
        return build_report(source, start_ns, end_ns, service=service, baseline=base, prices=price_table, progress=progress)


def write_report(rep: Report, fmt: str, output: Path | None, save_baseline: Path | None = None) -> None:
    if save_baseline:
        save_baseline.write_text(rep.to_json(with_samples=True))
    if fmt == "terminal":
        from agent_otel.analyzer.render.terminal import render

        render(rep.to_dict())
        return
    if fmt == "json":
        text = rep.to_json()
    else:
        from agent_otel.analyzer.render.html import render as render_html

        text = render_html(rep.to_dict())
    if output:
        output.write_text(text)
        Console(stderr=True).print(f"wrote {output} ({len(text):,} bytes)")
    else:
        sys.stdout.write(text + "\n")


__all__ = ["make_report", "write_report"]
