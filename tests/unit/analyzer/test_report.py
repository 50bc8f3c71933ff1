"""Reports over spans with known figures: the numbers a user reads must be the ones that happened."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from agent_otel import semconv
from agent_otel.analyzer import Baseline, SourceError, build_report
from agent_otel.analyzer.critical_path import critical_path, self_times
from agent_otel.analyzer.render.html import render as render_html
from agent_otel.analyzer.sources.base import TraceSpan
from agent_otel.analyzer.sources.local import LocalSource
from spanwriter import MS, T0, Writer  # noqa: F401

def window():
    return T0, T0 + 3_600_000 * MS


def test_exact_percentiles_errors_tokens_and_cost(tmp_path):
    w = Writer(tmp_path / "s.db")
    durations = list(range(1, 101))  # 1..100 ms
    for i, d in enumerate(durations):
        root = w.span("agent", "bot", i * 200, 150)
        w.span("tool", "search", i * 200 + 1, d, parent=root, error="Timeout" if i % 10 == 0 else None)
        w.span("llm", "gpt-4o", i * 200 + 120, 20, parent=root, **{semconv.GEN_AI_REQUEST_MODEL: "gpt-4o", semconv.GEN_AI_USAGE_INPUT_TOKENS: 1000, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 100})
    rep = build_report(LocalSource(tmp_path / "s.db"), *window()).to_dict()
    groups = {(g["kind"], g["name"]): g for g in rep["groups"]}
    search = groups[("tool", "search")]
    assert search["count"] == 100 and search["errors"] == 10 and search["error_rate"] == 0.1
    assert search["latency_ms"]["p50"] == pytest.approx(np.percentile(durations, 50), abs=0.01)
    assert search["latency_ms"]["p99"] == pytest.approx(np.percentile(durations, 99), abs=0.01)
    llm = groups[("llm", "gpt-4o")]
    assert (llm["input_tokens"], llm["output_tokens"]) == (100_000, 10_000)
    assert llm["cost_usd"] == pytest.approx(100_000 * 2.5 / 1e6 + 10_000 * 10 / 1e6)
    assert rep["totals"]["traces"] == 100
    assert rep["errors"][0]["error_type"] == "Timeout" and rep["errors"][0]["count"] == 10
    assert rep["schema"] == "agent-otel/report" and rep["version"] == 3


def test_per_service_figures(tmp_path):
    a, b = Writer(tmp_path / "s.db", "svc-a"), Writer(tmp_path / "s.db", "svc-b")
    for i in range(10):
        a.span("agent", "bot", i * 100, 40 + i)
    for i in range(4):
        root = b.span("agent", "other", i * 100, 80, error="Boom" if i == 0 else None)
        b.span("llm", "gpt-4o", i * 100, 10, parent=root, **{semconv.GEN_AI_REQUEST_MODEL: "gpt-4o", semconv.GEN_AI_USAGE_INPUT_TOKENS: 10, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 1})
    rep = build_report(LocalSource(tmp_path / "s.db"), *window()).to_dict()
    svc = {s["service"]: s for s in rep["services"]}
    assert (svc["svc-a"]["traces"], svc["svc-a"]["errors"], svc["svc-a"]["trace_latency_ms"]["max"]) == (10, 0, 49.0)
    assert (svc["svc-b"]["traces"], svc["svc-b"]["spans"], svc["svc-b"]["errors"], svc["svc-b"]["input_tokens"]) == (4, 8, 1, 40)


def test_critical_path_ranks_the_sequential_bottleneck(tmp_path):
    w = Writer(tmp_path / "s.db")
    for i in range(20):
        base = i * 1000
        root = w.span("agent", "bot", base, 500)
        # parallel: fast tool (0-100) overlapped by slow search (0-300); then model (300-480)
        w.span("tool", "fast", base + 0, 100, parent=root)
        w.span("tool", "search", base + 0, 300, parent=root)
        w.span("llm", "m", base + 300, 180, parent=root)
    rep = build_report(LocalSource(tmp_path / "s.db"), *window()).to_dict()
    shares = {(b["kind"], b["name"]): b["share"] for b in rep["bottlenecks"]}
    assert shares[("tool", "search")] == pytest.approx(0.6, abs=0.01)
    assert shares[("llm", "m")] == pytest.approx(0.36, abs=0.01)
    assert ("tool", "fast") not in shares  # hidden behind the slower parallel call
    assert any("tool search is 60% of the critical path" in r for r in rep["recommendations"])


def test_critical_path_and_self_time_of_one_trace():
    spans = [
        TraceSpan("r", None, "root", "agent", "bot", 0, 100 * MS),
        TraceSpan("a", "r", "a", "tool", "a", 10 * MS, 40 * MS),
        TraceSpan("b", "r", "b", "tool", "b", 30 * MS, 90 * MS),
    ]
    path = {s.target: ms for s, ms in critical_path(spans)}
    # b ends last (60 ms on the path); a, overlapping b, covers 10-30; the root itself 0-10 and 90-100
    assert path == {"bot": pytest.approx(20.0), "b": pytest.approx(60.0), "a": pytest.approx(20.0)}
    assert sum(path.values()) == pytest.approx(100.0)
    assert self_times(spans)["r"] == pytest.approx(20.0)


def test_baseline_calls_a_real_slowdown_degraded_and_noise_stable(tmp_path):
    rng = np.random.default_rng(1)
    base_w = Writer(tmp_path / "base.db")
    cur_w = Writer(tmp_path / "cur.db")
    for i in range(300):
        base_w.span("tool", "slow", i * 10, float(rng.normal(100, 10)))
        base_w.span("tool", "steady", i * 10, float(rng.normal(50, 5)))
        cur_w.span("tool", "slow", i * 10, float(rng.normal(150, 15)))  # +50%
        cur_w.span("tool", "steady", i * 10, float(rng.normal(51, 5)))  # noise
    base_src = LocalSource(tmp_path / "base.db")
    baseline = Baseline.from_frame("test", base_src.spans(*window(), None), base_src.resources(*window(), None))
    rep = build_report(LocalSource(tmp_path / "cur.db"), *window(), baseline=baseline).to_dict()
    verdict = {g["name"]: g["baseline"] for g in rep["groups"]}
    assert verdict["slow"]["status"] == "degraded" and verdict["slow"]["p95_change_pct"] > 30
    assert verdict["steady"]["status"] == "stable"
    assert any("slow" in r and "since baseline" in r for r in rep["recommendations"])


def test_saved_baseline_file_round_trips(tmp_path):
    w = Writer(tmp_path / "s.db")
    for i in range(50):
        w.span("tool", "t", i * 10, 10 + i % 5)
    rep = build_report(LocalSource(tmp_path / "s.db"), *window())
    f = tmp_path / "baseline.json"
    f.write_text(rep.to_json(with_samples=True))
    again = build_report(LocalSource(tmp_path / "s.db"), *window(), baseline=Baseline.load(f)).to_dict()
    assert again["groups"][0]["baseline"]["status"] == "stable"
    assert again["groups"][0]["baseline"]["p95_change_pct"] == 0.0


def test_bad_baseline_file_and_unknown_service_are_named(tmp_path):
    w = Writer(tmp_path / "s.db")
    w.span("tool", "t", 0, 5)
    (tmp_path / "bad.json").write_text('{"schema": "other"}')
    with pytest.raises(SourceError, match="bad.json: not an agent-otel report"):
        Baseline.load(tmp_path / "bad.json")
    with pytest.raises(SourceError, match="unknown service 'nope'; local knows: svc"):
        build_report(LocalSource(tmp_path / "s.db"), *window(), service="nope")
    with pytest.raises(SourceError, match="no spans in the window"):
        build_report(LocalSource(tmp_path / "s.db"), 0, 10)


def test_html_report_is_self_contained(tmp_path):
    w = Writer(tmp_path / "s.db")
    for i in range(30):
        root = w.span("agent", "bot", i * 100, 50)
        w.span("tool", "x<script>", i * 100, 20, parent=root)
    page = render_html(build_report(LocalSource(tmp_path / "s.db"), *window()).to_dict())
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert "http://" not in page and "https://" not in page
    assert "x<script>" not in page and "x&lt;script&gt;" in page


def test_terminal_report_shows_figures_a_source_could_not_give_as_a_dash(tmp_path):
    """A push-down report has no maximum latency, and no trace latency for a service without agent
    root spans (e.g. a plain HTTP service in the same backends): the terminal shows a dash."""
    from rich.console import Console

    from agent_otel.analyzer.render.terminal import render as render_terminal

    agents, web = Writer(tmp_path / "s.db", "agents"), Writer(tmp_path / "s.db", "web")
    for i in range(10):
        agents.span("agent", "bot", i * 100, 50)
        web.span("span", "GET /", i * 100, 5)
    data = build_report(LocalSource(tmp_path / "s.db"), *window()).to_dict()
    for s in data["services"]:
        if s["service"] == "web":
            s["trace_latency_ms"] = {k: None for k in s["trace_latency_ms"]}
    for g in data["groups"]:
        g["latency_ms"]["max"] = None
    console = Console(record=True, width=200)
    render_terminal(data, console)
    web_row = next(line for line in console.export_text().splitlines() if "│ web" in line)
    assert web_row.count("–") == 2  # p50 and p95


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "agent_otel.cli", *args], capture_output=True, text=True, timeout=120, env=env)


def test_demo_end_to_end_json(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("demo", "--runs", "12", "--store", str(tmp_path / "d.db"), "--format", "json", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    names = {(g["kind"], g["name"]) for g in data["groups"]}
    assert {("agent", "support-bot"), ("tool", "web_search"), ("llm", "gpt-4o"), ("step", "retrieve")} <= names
    assert data["totals"]["traces"] == 12 and data["totals"]["input_tokens"] > 0
    # the classifier ran through the cache and the batcher: 12 tickets of 8 kinds -> 4 repeats hit
    inference = data["resources"]["inference"]
    assert inference["cache_requests"] == 12 and inference["cache_hit_ratio"] == round(4 / 12, 4)
    assert inference["batches"] * inference["mean_batch_size"] == pytest.approx(8, abs=0.05)  # the 8 misses were batched
    # the same store answers `report` afterwards
    again = run_cli("report", "--source", "local", "--store", str(tmp_path / "d.db"), "--since", "1h", "--format", "json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["totals"]["spans"] == data["totals"]["spans"]


@pytest.mark.parametrize(
    "args, message",
    [
        (("report", "--since", "yesterday"), "--since 'yesterday': expected a number and a unit"),
        (("report", "--format", "pdf"), "--format 'pdf'"),
        (("report", "--source", "local", "--store", "/nonexistent/x.db"), "does not exist"),
        (("report", "--source", "stack", "--jaeger", "http://127.0.0.1:9"), "jaeger"),
        (("report", "--baseline", "1h..24h"), "start must be further back"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(tmp_path, args, message):
    w = Writer(tmp_path / "s.db")
    w.span("tool", "t", 0, 5)
    full = [*args] if "--store" in args or "--jaeger" in args else [*args, "--store", str(tmp_path / "s.db")]
    proc = run_cli(*full)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message.lower() in proc.stderr.lower()
    assert "Traceback" not in proc.stderr
