"""Make and write a report the way the CLI commands do (shared by `report` and `demo`): progress and notes on the console."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from agent_otel.analyzer.model import BaselineWindow
from agent_otel.analyzer.render.console import write_output
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
    keep_overlap: bool = False,
    conversation: str | None = None,
) -> Report:
    """Report of `since` (or [start_ns, end_ns)) with a baseline window/file; progress on `console`.

    pushdown: for the stack source, "always" computes the figures in Prometheus/Loki and fetches
    only the traces it explains; "never" pulls raw spans from Jaeger; "auto" pushes down when the
    window holds more than PUSHDOWN_SPANS spans (and no baseline needs latency samples).

    With a baseline, the window never silently overlaps the baseline's: it starts at the
    baseline's end (a line says so), or with `keep_overlap` it stays and a line says how much of
    it overlaps; the report's `baseline_window` records either."""
    console = console or Console(stderr=True)
    if start_ns is None or end_ns is None:
        start_ns, end_ns = window(since or "1h")
    if pushdown not in ("auto", "always", "never"):
        raise ValueError(f"--pushdown {pushdown!r}: expected auto, always or never")
    base = None
    price_table = load_prices(prices)
    if source.name == "stack" and pushdown != "never" and conversation is None:  # one conversation: read its spans
        from agent_otel.analyzer.pushdown import build_pushdown_report, estimated_spans

        if pushdown == "always" and baseline:
            raise ValueError("--baseline compares latency samples: use it with --pushdown never or auto")
        if pushdown == "always" or (not baseline and estimated_spans(source, start_ns, end_ns, service) > PUSHDOWN_SPANS):
            with console.status("analysing in the backends...") as status:
                return build_pushdown_report(source, start_ns, end_ns, service=service, prices=price_table, progress=lambda m: status.update(f"{m}..."))
    with console.status("analysing...") as status:
        progress = lambda msg: status.update(f"{msg}...")  # noqa: E731
        overlap = None
        if baseline:
            if Path(baseline).exists() or baseline.endswith(".json"):
                base = Baseline.load(baseline)
                from agent_otel.analyzer.evaluations import means_from_file

                base.evaluation_means = means_from_file(baseline)  # type: ignore[attr-defined]  # scores to compare against
            else:
                b_start, b_end = baseline_window(baseline, end_ns)
                progress(f"reading baseline {baseline}")
                base = Baseline.from_frame(f"window {baseline}", source.spans(b_start, b_end, service), source.resources(b_start, b_end, service))
                base.window = (b_start, b_end)
            start_ns, overlap = _apart_from_baseline(start_ns, end_ns, base, keep_overlap)
            console.print(overlap.pop("note"), highlight=False)
        rep = build_report(source, start_ns, end_ns, service=service, baseline=base, prices=price_table, progress=progress, conversation=conversation)
        if overlap is not None:
            rep.baseline_window = BaselineWindow(**overlap)
        return rep


def _minutes(ns: int) -> str:
    s = ns / 1e9
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.0f}m" if s < 7200 else f"{s / 3600:.1f}h"


def _apart_from_baseline(start_ns: int, end_ns: int, base: Baseline, keep_overlap: bool) -> tuple[int, dict]:
    """The current window's start, and what the report says about its overlap with the baseline."""
    if base.window is None:
        return start_ns, {"start_ns": None, "end_ns": None, "overlap_s": None, "moved_start_s": 0.0,
                          "note": f"baseline {base.label}: its window is not recorded, so an overlap with this window cannot be ruled out"}
    b_start, b_end = base.window
    overlap = max(0, min(end_ns, b_end) - max(start_ns, b_start))
    info = {"start_ns": b_start, "end_ns": b_end, "overlap_s": round(overlap / 1e9, 3), "moved_start_s": 0.0}
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(b_end / 1e9))
    if overlap == 0:
        info["note"] = f"baseline {base.label}: ends {stamp}, no overlap with this window"
        return start_ns, info
    if keep_overlap:
        info["note"] = (f"baseline {base.label}: this window overlaps it by {_minutes(overlap)} "
                        f"({overlap / (end_ns - start_ns):.0%} of the window; --keep-overlap), which dilutes the comparison")
        return start_ns, info
    if b_end >= end_ns:
        raise ValueError(f"--baseline {base.label}: this window lies inside the baseline's (which ends {stamp}), "
                         "so nothing after the baseline is left to compare; record new runs first, or pass --keep-overlap")
    info.update(overlap_s=0.0, moved_start_s=round((b_end - start_ns) / 1e9, 3))
    info["note"] = (f"baseline {base.label}: this window starts at the baseline's end ({stamp}), "
                    f"{_minutes(b_end - start_ns)} later than asked, so no run counts on both sides (--keep-overlap to keep them)")
    return b_end, info


def write_report(rep: Report, fmt: str, output: Path | None, save_baseline: Path | None = None) -> None:
    if save_baseline:
        save_baseline.write_text(rep.to_json(with_samples=True))
    if fmt == "terminal":
        from agent_otel.analyzer.render.terminal import render

        render(rep)
        return
    if fmt == "json":
        text = rep.to_json()
    else:
        from agent_otel.analyzer.render.html import render as render_html

        text = render_html(rep)
    write_output(text, output)


__all__ = ["make_report", "write_report"]
