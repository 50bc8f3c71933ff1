"""The current window never silently overlaps the baseline's: it starts after it, or the report says how much."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from agent_otel.cli.run import make_report
from agent_otel.analyzer.sources.local import LocalSource
from spanwriter import MS, T0, Writer

MIN = 60_000  # ms


@pytest.fixture
def store(tmp_path):
    """A tool at 100 ms for the first 30 minutes, then at 300 ms for the next 30."""
    w = Writer(tmp_path / "s.db")
    for i in range(60):
        w.span("tool", "search", i * MIN, 100 if i < 30 else 300)
    return tmp_path / "s.db"


def at(minutes: float) -> int:
    return T0 + int(minutes * MIN * MS)


def report(store, start, end, baseline, **kw):
    out = io.StringIO()
    rep = make_report(LocalSource(store), start_ns=start, end_ns=end, baseline=baseline, console=Console(file=out, width=300), **kw)
    return rep.to_dict(), out.getvalue()


def save_baseline(store, tmp_path, start, end):
    rep = make_report(LocalSource(store), start_ns=start, end_ns=end, console=Console(file=io.StringIO()))
    path = tmp_path / "base.json"
    path.write_text(rep.to_json(with_samples=True))
    return str(path)


def test_a_saved_baseline_moves_the_window_start_to_its_end_and_says_so(store, tmp_path):
    base = save_baseline(store, tmp_path, at(0), at(30))
    data, said = report(store, at(10), at(60), base)  # asked for minutes 10..60; the baseline covers 0..30
    search = data["groups"][0]
    assert search["count"] == 30 and search["latency_ms"]["p50"] == 300  # only the runs after the baseline
    assert data["window"]["start_ns"] == at(30)
    assert data["baseline_window"] == {"start_ns": at(0), "end_ns": at(30), "overlap_s": 0.0, "moved_start_s": 1200.0}
    assert "this window starts at the baseline's end" in said and "20m later than asked" in said
    assert search["baseline"]["status"] == "degraded"


def test_keep_overlap_keeps_the_window_and_says_how_much_overlaps(store, tmp_path):
    base = save_baseline(store, tmp_path, at(0), at(30))
    data, said = report(store, at(10), at(60), base, keep_overlap=True)
    assert data["groups"][0]["count"] == 50  # minutes 10..60, 20 of them also in the baseline
    assert data["baseline_window"]["overlap_s"] == 1200.0 and data["baseline_window"]["moved_start_s"] == 0.0
    assert "overlaps it by 20m (40% of the window; --keep-overlap)" in said


def test_a_baseline_window_spec_is_kept_apart_too(store):
    data, said = report(store, at(30), at(60), "60m..20m")  # baseline minutes 0..40 of a window asked from 30
    assert data["window"]["start_ns"] == at(40) and data["groups"][0]["count"] == 20
    assert "starts at the baseline's end" in said


def test_no_overlap_is_stated_and_a_window_inside_the_baseline_is_refused(store, tmp_path):
    base = save_baseline(store, tmp_path, at(0), at(30))
    data, said = report(store, at(30), at(60), base)
    assert data["baseline_window"]["overlap_s"] == 0.0 and "no overlap with this window" in said
    with pytest.raises(ValueError, match="lies inside the baseline's"):
        report(store, at(5), at(25), base)
