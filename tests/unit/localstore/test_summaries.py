"""Per-minute span summaries: a report from them says what the raw spans say (percentiles within
1 %, everything else exact), whatever the window, the batching of the writes or a failing summary."""

from __future__ import annotations

import numpy as np
import pytest

from agent_otel import semconv
from agent_otel.analyzer import Baseline, build_report
from agent_otel.analyzer.sources.base import ResourceFigures
from agent_otel.analyzer.sources.local import LocalSource
from agent_otel.localstore import summaries
from agent_otel.localstore.exporters import SPAN_COLUMNS
from agent_otel.localstore.store import Store
from agent_otel.localstore.store import connect as store_connect
from spanwriter import MS, T0, Writer

HOUR = (T0, T0 + 3_600_000 * MS)
LLM = {semconv.GEN_AI_REQUEST_MODEL: "gpt-4o", semconv.GEN_AI_USAGE_INPUT_TOKENS: 900, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 120}
CHEAP = {semconv.GEN_AI_REQUEST_MODEL: "my-local-model", semconv.GEN_AI_USAGE_INPUT_TOKENS: 50, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 5}


def record(path, traces: int = 600, slow: float = 1.0, seed: int = 1) -> None:
    """Agent runs of two services over ~4 minutes through the real exporter: heavy-tailed tool
    latencies, a nested model call whose tokens roll up to the agent, an unpriced model, errors."""
    rng = np.random.default_rng(seed)
    writers = [Writer(path, "support-bot"), Writer(path, "billing-bot")]
    for i in range(traces):
        w = writers[i % 2]
        start = i * 400.0  # ms: 600 traces over 4 minutes
        tool = float(rng.lognormal(3.0, 1.0)) * slow
        root = w.span("agent", f"bot-{i % 2}", start, tool + 300)
        step = w.span("step", "retrieve", start + 1, tool + 50, parent=root)
        w.span("tool", "search", start + 2, tool, parent=step, error="Timeout" if rng.random() < 0.05 else None)
        w.span("llm", "gpt-4o", start + tool + 60, float(rng.gamma(2.0, 40.0)), parent=step, **LLM)
        w.span("llm", "my-local-model", start + tool + 200, 20 + float(rng.random()) * 5, parent=root, **CHEAP)
    for w in writers:
        w.exporters.store.flush_summaries()


def by_group(rep: dict) -> dict:
    return {(g["kind"], g["name"]): g for g in rep["groups"]}


def assert_same_report(exact: dict, approx: dict, *, rollup_rel: float = 0.0) -> None:
    """`rollup_rel`: tolerance on the agents' rolled-up tokens (a window cutting a minute)."""
    assert approx["totals"] == exact["totals"]
    ge, ga = by_group(exact), by_group(approx)
    assert ge.keys() == ga.keys()
    for key, e in ge.items():
        a = ga[key]
        for field in ("count", "errors", "error_rate", "total_ms", "tokens_scope", "input_tokens", "output_tokens", "cost_usd", "unpriced_tokens"):
            rolled = e["tokens_scope"] == "rolled_up" and field in ("input_tokens", "output_tokens", "cost_usd", "unpriced_tokens")
            if isinstance(e[field], (int, float)):
                assert a[field] == pytest.approx(e[field], abs=1e-6, rel=rollup_rel if rolled else 0), (key, field)
            else:
                assert a[field] == e[field], (key, field)
        for p in ("p50", "p90", "p95", "p99"):
            assert a["latency_ms"][p] == pytest.approx(e["latency_ms"][p], rel=0.01), (key, p)
        assert a["latency_ms"]["max"] == e["latency_ms"]["max"] and a["latency_ms"]["mean"] == pytest.approx(e["latency_ms"]["mean"], abs=0.002)
    se, sa = {s["service"]: s for s in exact["services"]}, {s["service"]: s for s in approx["services"]}
    for name, s in se.items():
        for field in ("spans", "traces", "errors", "input_tokens", "output_tokens", "cost_usd", "unpriced_tokens"):
            assert sa[name][field] == pytest.approx(s[field]), (name, field)
        for p in ("p50", "p90", "p95", "p99"):
            assert sa[name]["trace_latency_ms"][p] == pytest.approx(s["trace_latency_ms"][p], rel=0.01), (name, p)
    assert [(e["kind"], e["name"], e["error_type"], e["count"]) for e in approx["errors"]] == [(e["kind"], e["name"], e["error_type"], e["count"]) for e in exact["errors"]]


def test_summary_report_matches_raw_spans_within_one_percent(tmp_path):
    record(tmp_path / "s.db")
    src = LocalSource(tmp_path / "s.db")
    exact = build_report(src, *HOUR, summaries="never").to_dict()
    approx = build_report(src, *HOUR, summaries="always").to_dict()
    assert approx["figures_from"]["raw_spans"] == 0 and approx["figures_from"]["summaries"] >= 4  # every span came from a summary
    assert_same_report(exact, approx)
    agent = by_group(approx)[("agent", "bot-0")]
    assert agent["tokens_scope"] == "rolled_up" and agent["input_tokens"] == 300 * (900 + 50)  # the nested model call's tokens reach the agent
    assert approx["totals"]["unpriced_models"] == ["my-local-model"]
    assert approx["bottlenecks"] and approx["slowest_traces"][0]["duration_ms"] == exact["slowest_traces"][0]["duration_ms"]
    assert approx["errors"][0]["trace_id"] == exact["errors"][0]["trace_id"]  # the latest failing trace, as the raw report picks it
    for key, g in by_group(approx).items():  # the histogram holds every call, on the raw report's edges
        assert sum(g["histogram"]["counts"]) == g["count"]
        assert g["histogram"]["edges_ms"] == pytest.approx(by_group(exact)[key]["histogram"]["edges_ms"], rel=1e-3)


def test_window_cutting_minutes_and_unsummarised_spans_count_once(tmp_path):
    path = tmp_path / "s.db"
    record(path, traces=300)
    extra = Writer(path, "support-bot")  # written after the flush: no summary covers these yet
    for i in range(40):
        extra.span("tool", "search", 130_000 + i * 10, 5 + i)
    src = LocalSource(path)
    for start, end in ((T0 + 37_123 * MS, T0 + 101_555 * MS), (T0 + 61_000 * MS, HOUR[1]), HOUR):
        exact = build_report(src, start, end, summaries="never").to_dict()
        approx = build_report(src, start, end, summaries="always").to_dict()
        # cut minutes come from their span columns; only the 40 spans no summary covers yet are read raw
        assert approx["figures_from"]["raw_spans"] == (40 if end > T0 + 130_000 * MS else 0)
        # an agent in a cut minute is not charged its model calls in the next minute (and vice versa): a few of 300 here
        assert_same_report(exact, approx, rollup_rel=0.05)


def test_cut_minute_without_span_columns_is_read_raw(tmp_path):
    """A store summarised before span columns existed: the minute a window cuts is read raw, same figures."""
    path = tmp_path / "s.db"
    record(path, traces=300)
    conn = store_connect(path)
    conn.execute("DELETE FROM span_columns")
    conn.close()
    src = LocalSource(path)
    start, end = T0 + 37_123 * MS, T0 + 101_555 * MS
    approx = build_report(src, start, end, summaries="always").to_dict()
    assert approx["figures_from"]["raw_spans"] > 0
    assert_same_report(build_report(src, start, end, summaries="never").to_dict(), approx, rollup_rel=0.05)


def test_a_failing_summary_loses_no_span(tmp_path, monkeypatch, caplog):
    def broken(self, conn, rows):
        raise RuntimeError("disk full")

    monkeypatch.setattr(summaries.Summarizer, "write", broken)
    store = Store(tmp_path / "s.db")
    rows = [("t%031d" % i, "s%015d" % i, None, "svc", "agent bot", "agent", "bot", T0 + i * MS, T0 + (i + 5) * MS, 5.0, 0, None, None, None, None, None, "{}")
            for i in range(30)]
    store.write("spans", SPAN_COLUMNS, rows)
    store.flush_summaries()
    assert "could not summarise" in caplog.text
    rep = build_report(LocalSource(tmp_path / "s.db"), *HOUR, summaries="always").to_dict()
    assert rep["totals"]["spans"] == 30 and rep["figures_from"]["raw_spans"] == 30


def test_a_store_from_before_summaries_is_read_in_full(tmp_path):
    path = tmp_path / "s.db"
    old = Store(path, summaries=False)
    rows = [("t%031d" % i, "s%015d" % i, None, "svc", "agent bot", "agent", "bot", T0 + i * MS, T0 + (i + 5) * MS, 5.0 + i, 0, None, None, None, None, None, "{}")
            for i in range(50)]
    old.write("spans", SPAN_COLUMNS, rows)
    old.close()
    new = Store(path)  # upgraded in place: the old rows have no summary
    new.write("spans", SPAN_COLUMNS, [(f"u{i:031d}", *r[1:]) for i, r in enumerate(rows)])
    new.close()
    rep = build_report(LocalSource(path), *HOUR, summaries="always").to_dict()
    assert rep["totals"]["spans"] == 100 and rep["figures_from"]["raw_spans"] == 50


def test_baseline_verdict_from_summaries_uses_raw_samples(tmp_path):
    record(tmp_path / "base.db", traces=400, seed=3)
    record(tmp_path / "cur.db", traces=400, slow=2.0, seed=4)
    base_src = LocalSource(tmp_path / "base.db")
    baseline = Baseline.from_frame("base", base_src.spans(*HOUR, None), ResourceFigures())
    exact = by_group(build_report(LocalSource(tmp_path / "cur.db"), *HOUR, baseline=baseline, summaries="never").to_dict())
    approx = by_group(build_report(LocalSource(tmp_path / "cur.db"), *HOUR, baseline=baseline, summaries="always").to_dict())
    search, raw_search = approx[("tool", "search")], exact[("tool", "search")]
    assert search["baseline"]["status"] == raw_search["baseline"]["status"] == "degraded"
    assert search["baseline"]["p_value"] < 0.05
    assert search["baseline"]["p95_change_pct"] == pytest.approx(raw_search["baseline"]["p95_change_pct"], abs=2.0)
    assert 300 <= len(search["latency_samples_ms"]) <= 400 and set(search["latency_samples_ms"]) <= set(raw_search["latency_samples_ms"])  # raw durations
    assert approx[("llm", "gpt-4o")]["baseline"]["status"] == "stable"


def test_sketch_keys_are_the_ddsketch_mapping():
    values = np.array([0.001, 0.5, 1.0, 3.7, 250.0, 1e6])
    assert summaries.bin_of(values).tolist() == [summaries.MAPPING.key(v) for v in values]
    assert np.allclose(summaries.value_of(summaries.bin_of(values)), [summaries.MAPPING.value(summaries.MAPPING.key(v)) for v in values])
    assert np.all(np.abs(summaries.value_of(summaries.bin_of(values)) / values - 1) <= summaries.RELATIVE_ACCURACY + 1e-12)


def test_interleaved_writers_leave_one_covered_range(tmp_path):
    path = tmp_path / "s.db"
    a, b = Store(path), Store(path)
    for i in range(6):
        rows = [(f"{i:02d}{j:030d}", f"{j:016d}", None, "svc", "agent bot", "agent", "bot", T0 + (i * 10 + j) * MS, T0 + (i * 10 + j + 3) * MS, 3.0, 0,
                 None, None, None, None, None, "{}") for j in range(10)]
        (a if i % 2 else b).write("spans", SPAN_COLUMNS, rows)
    a.flush_summaries()
    b.flush_summaries()
    conn = a._conn
    assert conn.execute("SELECT lo, hi FROM summary_coverage").fetchall() == [(1, 60)]
    rep = build_report(LocalSource(path), *HOUR, summaries="always").to_dict()
    assert rep["totals"]["spans"] == 60 and rep["figures_from"]["raw_spans"] == 0


def test_summary_rows_of_the_earlier_layout_still_decode():
    """Rows written before keys had their own part (keys inside the JSON header, wider integers) read the same."""
    import json
    import struct

    rows = [("t%031d" % i, "s%015d" % i, None, f"svc{i % 3}", "agent bot", "agent", "bot", T0 + i * MS, T0 + (i + 5) * MS, 5.0 + i, i % 7 == 0,
             "Timeout" if i % 7 == 0 else None, None, None, None, None, "{}") for i in range(200)]
    chunk = next(iter(summaries.summarise(rows, np.random.default_rng(0), summaries.TokenRollup()).values()))
    arrays = [np.ascontiguousarray(getattr(chunk, n)) for n in chunk.ARRAYS]
    header = json.dumps({"keys": chunk.keys, "errors": chunk.errors, "rollup": chunk.rollup,
                         "arrays": [[a.dtype.str, list(a.shape)] for a in arrays]}).encode()
    old = struct.pack("<I", len(header)) + header + b"".join(a.tobytes() for a in arrays)
    for blob in (old, chunk.encode()):
        back = summaries.Chunk.decode(blob, chunk.interval_ns, chunk.spans, 0, 0, 0)
        assert back.keys == [tuple(k) for k in chunk.keys] and back.errors == chunk.errors
        for name in chunk.ARRAYS:
            assert np.array_equal(getattr(back, name), getattr(chunk, name)), name
    assert len(chunk.encode()) < len(old)  # smaller integer types


def test_summary_rows_keep_trace_ids_raw_and_read_every_layout():
    """Hex trace ids (OpenTelemetry's) are kept as 16 bytes, a zero byte at the end included; rows of
    the layout before (arrays unnamed, ids as hex text) read the same."""
    import json
    import struct

    ids = [f"{i:030x}00" for i in range(300)]  # last byte zero: numpy's bytes items would drop it
    rows = [(ids[i], "s%015d" % i, None, f"svc{i % 3}", "agent bot", "agent", "bot", T0 + i * MS, T0 + (i + 5) * MS, 5.0 + i, i % 7 == 0,
             "Timeout" if i % 7 == 0 else None, None, None, None, None, "{}") for i in range(300)]
    chunk = next(iter(summaries.summarise(rows, np.random.default_rng(0), summaries.TokenRollup()).values()))
    arrays = [summaries._compact(np.ascontiguousarray(getattr(chunk, n))) for n in chunk.ARRAYS]
    header = json.dumps({"errors": chunk.errors, "rollup": chunk.rollup, "arrays": [[a.dtype.str, list(a.shape)] for a in arrays]}).encode()
    keys = json.dumps(chunk.keys).encode()
    before = struct.pack("<III", 0, len(header), len(keys)) + header + keys + b"".join(a.tobytes() for a in arrays)
    now = chunk.encode()
    assert len(now) < len(before) - 16 * chunk.root_tid.size  # ids in half the bytes, sketch keys as run lengths
    for blob in (before, now):
        back = summaries.Chunk.decode(blob, chunk.interval_ns, chunk.spans, 0, 0, 0)
        for name in chunk.ARRAYS:
            if name.endswith("_tid"):
                got = [summaries.id_text(t) for t in getattr(back, name)]
                assert got == [t.decode() for t in getattr(chunk, name)] and set(got) <= set(ids), name
            else:
                assert np.array_equal(getattr(back, name), getattr(chunk, name)), name
    raw_rows = summaries.Chunk.decode(now, chunk.interval_ns, chunk.spans, 0, 0, 0)
    assert raw_rows.root_tid.dtype.kind == "V"
    merged = summaries.merge([raw_rows, chunk], np.random.default_rng(1))  # raw and hex ids together: hex
    assert {t.decode() for t in merged.root_tid} <= set(ids) and merged.root_tid.size == 2 * chunk.root_tid.size
