"""Hour and 10-minute rows: a report read from them says what the minute rows say (the same sketch
counts, so the same percentiles, the same time series), and what the raw spans say within 1 %,
whether the window takes whole hours, cuts one mid-minute, or a late batch changed an hour after
its row."""

from __future__ import annotations

import time

import numpy as np
import pytest

from agent_otel.analyzer import build_report
from agent_otel.analyzer.sources.local import LocalSource
from agent_otel.localstore import block_summaries
from agent_otel.localstore.exporters import SPAN_COLUMNS
from agent_otel.localstore.store import Store
from agent_otel.localstore.store import connect as store_connect
from test_summaries import assert_same_report, by_group  # same directory

HOUR = block_summaries.HOUR_NS
H0 = time.time_ns() // HOUR * HOUR - 4 * HOUR  # three complete hours of data, well inside retention
FIRST = H0 + 37 * 60 * 10**9 + 500_000_000     # data from 37.5 minutes into the first hour...
GAP_NS = 2_500_000_000                          # ...one trace every 2.5 s...
TRACES = (2 * HOUR + 20 * 60 * 10**9 - (FIRST - H0)) // GAP_NS  # ...to 20 minutes into the third


def rows(first: int, n: int, rng: np.random.Generator, prefix: str = "t") -> list[tuple]:
    """Traces of two services: agent -> (llm with tokens, step -> tool failing 5 %)."""
    out = []
    for i in range(first, first + n):
        start = FIRST + i * GAP_NS
        svc = ("support-bot", "billing-bot")[i % 2]
        agent, llm, step, tool = (float(v) for v in (rng.lognormal(5.5, 0.5), rng.lognormal(4.5, 0.4), rng.lognormal(3.5, 0.6), rng.lognormal(3.0, 1.0)))
        err = rng.random() < 0.05
        tid, base = f"{prefix}{i:031d}"[-32:], f"{i:012x}"
        ms = 1_000_000
        out += [
            (tid, base + "0001", None, svc, "invoke_agent bot", "agent", f"bot-{i % 2}", start, start + int(agent * ms), agent, 0, None, None, None, None, None, "{}"),
            (tid, base + "0002", base + "0001", svc, "chat gpt-4o", "llm", "gpt-4o", start, start + int(llm * ms), llm, 0, None, "gpt-4o", "openai", 900, 120, "{}"),
            (tid, base + "0003", base + "0001", svc, "retrieve", "step", "retrieve", start, start + int(step * ms), step, 0, None, None, None, None, None, "{}"),
            (tid, base + "0004", base + "0003", svc, "execute_tool search", "tool", "search", start, start + int(tool * ms), tool, int(err),
             "Timeout" if err else None, None, None, None, None, "{}"),
        ]
    return out


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("hours") / "s.db"
    store = Store(path)
    rng = np.random.default_rng(7)
    for first in range(0, TRACES, 400):
        store.write("spans", SPAN_COLUMNS, rows(first, min(400, TRACES - first), rng))
        store.flush_summaries()  # as a live writer's buffer does each second: its blocks are built as the data moves past them
    store.close()
    return path


def without_hour_rows(monkeypatch) -> None:
    monkeypatch.setattr(block_summaries, "usable", lambda *a, **k: [])


def test_a_window_of_hours_reads_one_row_per_hour_with_the_minute_rows_figures(store_path, monkeypatch):
    conn = store_connect(store_path, readonly=True)
    hours = [h for (h,) in conn.execute("SELECT interval_ns FROM block_summaries WHERE level_ns = ? ORDER BY 1", (HOUR,))]
    assert hours == [H0, H0 + HOUR, H0 + 2 * HOUR]  # each complete hour (the last one completed by the clock, on close)
    src = LocalSource(store_path)
    window = (H0, time.time_ns())
    from_hours = build_report(src, *window, summaries="always").to_dict()
    assert from_hours["figures_from"] == {"summaries": 3, "raw_spans": 0}
    exact = build_report(src, *window, summaries="never").to_dict()
    assert_same_report(exact, from_hours)
    with monkeypatch.context() as m:
        without_hour_rows(m)
        from_minutes = build_report(src, *window, summaries="always").to_dict()
    assert from_minutes["figures_from"]["summaries"] > 100
    # the hour's sketch is its minutes' sketches summed: the same percentiles, histograms and time series, bin for bin
    assert from_hours["timeseries"] == from_minutes["timeseries"] and len(from_hours["timeseries"]["calls"]) > 20
    assert from_hours["services"] == from_minutes["services"] and from_hours["totals"] == from_minutes["totals"]
    frame = src.spans(*window, None)
    for key, g in by_group(from_minutes).items():
        h = by_group(from_hours)[key]
        assert (h["latency_ms"], h["histogram"], h["count"], h["input_tokens"], h["cost_usd"]) == (g["latency_ms"], g["histogram"], g["count"], g["input_tokens"], g["cost_usd"])
        # raw samples: every span here was kept (a few per key and minute), so the group's samples are its raw durations
        raw_durations = set(np.round(frame.duration_ms[(frame.kind == key[0]) & (frame.target == key[1])], 3).tolist())
        assert len(h["latency_samples_ms"]) == min(2000, h["count"]) and set(h["latency_samples_ms"]) <= raw_durations
    assert from_hours["errors"] == from_minutes["errors"] and from_hours["slowest_traces"] == from_minutes["slowest_traces"]
    assert from_hours["bottlenecks"] and {b["name"] for b in from_hours["bottlenecks"]} == {b["name"] for b in from_minutes["bottlenecks"]}


def test_a_window_cutting_an_hour_mid_minute_reads_its_10_minute_rows_and_minutes(store_path):
    src = LocalSource(store_path)
    for start, end in ((H0 + HOUR + 17 * 60 * 10**9 + 30_500_000_000, time.time_ns()),  # hour 2 cut, hour 3 whole
                       (H0, H0 + 2 * HOUR + 5 * 60 * 10**9 + 12_000_000_000)):           # hours 1 and 2 whole, hour 3 cut
        approx = build_report(src, start, end, summaries="always").to_dict()
        exact = build_report(src, start, end, summaries="never").to_dict()
        # one hour row, four 10-minute rows, two minute rows and the cut minute (from its span columns)
        assert approx["figures_from"] == {"summaries": 8, "raw_spans": 0}
        assert_same_report(exact, approx, rollup_rel=0.0)
        assert sum(approx["timeseries"]["calls"]) == exact["totals"]["spans"]


def test_a_report_of_one_service_reads_minute_rows(store_path):
    src = LocalSource(store_path)
    window = (H0, time.time_ns())
    approx = build_report(src, *window, service="billing-bot", summaries="always").to_dict()
    assert approx["figures_from"]["summaries"] > 100  # the hour's timeline holds all services' roots in one sketch
    assert_same_report(build_report(src, *window, service="billing-bot", summaries="never").to_dict(), approx)


def test_a_late_batch_into_a_built_hour_is_counted_then_rebuilt(tmp_path):
    path = tmp_path / "s.db"
    store = Store(path)
    rng = np.random.default_rng(3)
    store.write("spans", SPAN_COLUMNS, rows(0, 2000, rng))
    store.close()
    late = Store(path)  # another writer, later: a batch of the first hour
    late.write("spans", SPAN_COLUMNS, rows(100, 50, rng, prefix="late"))
    late.flush_summaries()
    src = LocalSource(path)
    window = (H0, time.time_ns())
    exact = build_report(src, *window, summaries="never").to_dict()
    stale = build_report(src, *window, summaries="always").to_dict()
    assert exact["totals"]["spans"] == 2050 * 4 and stale["figures_from"]["summaries"] > 3  # the changed hour from its minutes
    assert_same_report(exact, stale)
    late.close()  # the writer rebuilds the hour row from its minutes, now compacted
    rebuilt = build_report(LocalSource(path), *window, summaries="always").to_dict()
    assert rebuilt["figures_from"]["summaries"] <= 3
    assert_same_report(exact, rebuilt)


def test_hour_rows_go_with_their_minutes(tmp_path):
    path = tmp_path / "s.db"
    store = Store(path)
    store.write("spans", SPAN_COLUMNS, rows(0, 2000, np.random.default_rng(5)))
    store.close()
    conn = store_connect(path)
    hours = "SELECT interval_ns FROM block_summaries WHERE level_ns = 3600000000000 ORDER BY 1"
    assert [h for (h,) in conn.execute(hours)] == [H0, H0 + HOUR, H0 + 2 * HOUR]
    from agent_otel.localstore import summaries

    summaries.prune(conn, H0 + HOUR)
    assert [h for (h,) in conn.execute(hours)] == [H0 + HOUR, H0 + 2 * HOUR]
    assert conn.execute("SELECT MIN(interval_ns) FROM block_summaries").fetchone()[0] == H0 + HOUR
