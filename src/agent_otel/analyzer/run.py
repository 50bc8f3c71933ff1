"""Make and write a report the way the CLI commands do (shared by `report` and `demo`)."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from agent_otel.analyzer.pricing import load_prices
from agent_otel.analyzer.report import Baseline, Report, build_report
from agent_otel.analyzer.sources.base import Source
from agent_otel.analyzer.timewindow import baseline_window, window


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
) -> Report:
    """Report of `since` (or [start_ns, end_ns)) with a baseline window/file; progress on `console`."""
    console = console or Console(stderr=True)
    if start_ns is None or end_ns is None:
        start_ns, end_ns = window(since or "1h")
    base = None
    price_table = load_prices(prices)
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
