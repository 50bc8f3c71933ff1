"""Report figures a user reads correctly: rates over the span of the data, one unit per column,
tokens and cost on the agent that spent them, blanks where a figure does not apply, unpriced
models named with their token count — in the JSON, the terminal and the HTML."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from agent_otel import semconv
from agent_otel.analyzer import build_report
from agent_otel.analyzer.render.html import render as render_html
from agent_otel.analyzer.render.terminal import render as render_terminal
from agent_otel.analyzer.report import Baseline
from agent_otel.analyzer.sources.local import LocalSource
from spanwriter import MS, T0, Writer

HOUR = (T0, T0 + 3_600_000 * MS)


def tokens(model, i, o):
    return {semconv.GEN_AI_REQUEST_MODEL: model, semconv.GEN_AI_USAGE_INPUT_TOKENS: i, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: o}


def agent_runs(path, runs=35, every_ms=200):
    """`runs` agent runs, one every `every_ms`, in a 1 h window: each plans with gpt-4o, searches,
    and hands off to a sub-agent that calls an unpriced local model."""
    w = Writer(path)
    for i in range(runs):
        t = i * every_ms
        root = w.span("agent", "bot", t, 150)
        w.span("llm", "gpt-4o", t + 1, 40, parent=root, **tokens("gpt-4o", 1000, 100))
        w.span("tool", "search", t + 50, 30, parent=root)
        step = w.span("step", "answer", t + 90, 50, parent=root)
        sub = w.span("agent", "writer", t + 91, 45, parent=step)
        w.span("llm", "my-local-llm", t + 92, 40, parent=sub, **tokens("my-local-llm", 500, 50))
    return w


def terminal_text(data):
    console = Console(record=True, width=220)
    render_terminal(data, console)
    return console.export_text()


def row(text, kind, name):
    return next(line for line in text.splitlines() if re.search(rf"│ {kind}\s+│ {re.escape(name)}\s+│", line))


def test_throughput_is_over_the_span_of_the_data_not_the_window(tmp_path):
    agent_runs(tmp_path / "s.db", runs=35, every_ms=200)  # 35 runs in about 7 s, asked for a 1 h window
    rep = build_report(LocalSource(tmp_path / "s.db"), *HOUR).to_dict()
    data_s = (34 * 200 + 150) / 1000
    assert rep["window"]["seconds"] == 3600 and rep["window"]["data_seconds"] == pytest.approx(data_s, abs=0.01)
    bot = next(g for g in rep["groups"] if g["name"] == "bot")
    assert bot["throughput_per_s"] == pytest.approx(35 / data_s, rel=0.01)  # ~5/s, not 35/3600 = 0.01/s
    assert rep["services"][0]["traces_per_s"] == pytest.approx(35 / data_s, rel=0.01)
    head = terminal_text(rep)
    assert f"3,600s window (data over {rep['window']['data_seconds']:,.1f}s" in head


def test_tokens_and_cost_roll_up_to_the_agent_that_spent_them(tmp_path):
    agent_runs(tmp_path / "s.db", runs=10)
    rep = build_report(LocalSource(tmp_path / "s.db"), *HOUR).to_dict()
    g = {(x["kind"], x["name"]): x for x in rep["groups"]}
    bot, writer = g[("agent", "bot")], g[("agent", "writer")]
    assert (bot["input_tokens"], bot["output_tokens"], bot["tokens_scope"]) == (10_000, 1_000, "rolled_up")  # its own model calls only
    assert bot["cost_usd"] == pytest.approx(g[("llm", "gpt-4o")]["cost_usd"]) and bot["cost_usd"] > 0
    assert (writer["input_tokens"], writer["output_tokens"], writer["cost_usd"], writer["unpriced_tokens"]) == (5_000, 500, None, 5_500)
    assert rep["totals"]["input_tokens"] == 15_000  # nothing counted twice


def test_not_applicable_figures_are_blank_and_unpriced_models_say_so(tmp_path):
    agent_runs(tmp_path / "s.db", runs=10)
    rep = build_report(LocalSource(tmp_path / "s.db"), *HOUR).to_dict()
    g = {(x["kind"], x["name"]): x for x in rep["groups"]}
    assert (g[("tool", "search")]["input_tokens"], g[("tool", "search")]["cost_usd"]) == (None, None)
    local = g[("llm", "my-local-llm")]
    assert (local["cost_usd"], local["unpriced_tokens"]) == (None, 5_500)
    assert rep["totals"]["unpriced_models"] == ["my-local-llm"] and rep["totals"]["unpriced_tokens"] == 5_500

    text = terminal_text(rep)
    assert "0/0" not in text and "0.0000" not in text
    search, step = row(text, "tool", "search"), row(text, "step", "answer")
    assert search.split("│")[-3].strip() == "" and search.split("│")[-2].strip() == ""  # tokens and cost cells empty
    assert step.split("│")[-3].strip() == "" and step.split("│")[-2].strip() == ""
    assert "unpriced (5,500 tok)" in row(text, "llm", "my-local-llm") and "unpriced (5,500 tok)" in row(text, "agent", "writer")
    assert "10,000/1,000 ∑" in row(text, "agent", "bot")
    assert "unpriced 5,500 tok (my-local-llm)" in text

    page = render_html(rep)
    assert "0/0" not in page and "0.0000" not in page
    assert "unpriced (5,500 tok)" in page and "unpriced 5,500 tokens (my-local-llm)" in page


def test_one_unit_per_duration_column(tmp_path):
    w = Writer(tmp_path / "s.db")
    for i in range(20):  # one slow agent (tens of seconds) and one fast tool (milliseconds)
        root = w.span("agent", "slow", i * 60_000, 20_000 + i * 100)
        w.span("tool", "fast", i * 60_000 + 1, 5 + i % 3, parent=root)
    text = terminal_text(build_report(LocalSource(tmp_path / "s.db"), *HOUR).to_dict())
    header = next(line for line in text.splitlines() if "p50" in line)
    assert "p50 s" in header and "p99 s" in header  # the column holds 20 s: seconds for every row
    cells = row(text, "tool", "fast").split("│")
    assert cells[6].strip() == "0.01" and "s" not in "".join(cells[6:10])  # 6 ms shown as 0.01 s, no unit per cell
    slow = row(text, "agent", "slow").split("│")
    assert slow[6].strip() == "20.95"


def test_html_shows_every_group_with_axes_markers_and_the_baseline(tmp_path):
    w = Writer(tmp_path / "s.db")
    names = [f"tool{i}" for i in range(9)]  # more groups than the old grid's six
    for i in range(40):
        root = w.span("agent", "bot", i * 500, 300 if i >= 20 else 150)  # the second half is twice as slow
        for j, n in enumerate(names):
            w.span("tool", n, i * 500 + j, 5 + j, parent=root)
    src = LocalSource(tmp_path / "s.db")
    base = Baseline.from_frame("first half", src.spans(T0, T0 + 10_000 * MS, None), src.resources(T0, T0 + 10_000 * MS, None))
    rep = build_report(src, T0 + 10_000 * MS, T0 + 20_000 * MS, baseline=base).to_dict()
    bot = next(g for g in rep["groups"] if g["name"] == "bot")
    assert sum(bot["histogram"]["counts"]) == 20 and sum(bot["histogram"]["baseline_counts"]) == 20
    page = render_html(rep)
    assert page.count('data-chart="histogram"') == len(rep["groups"]) == 10
    assert page.count('class="mark baseline"') == 10 and 'data-marker="baseline-p95"' in page
    for p in ("p50", "p95", "p99"):
        assert page.count(f'data-marker="{p}"') == 10
    assert page.count('data-chart="timeseries"') == 5  # latency percentiles, throughput, errors, tokens, cost
    for tid in [t["trace_id"] for t in rep["slowest_traces"]]:
        assert f"href='#trace-{tid}'" in page and f"id='trace-{tid}'" in page


def test_a_push_down_shaped_report_renders_with_blanks_not_crashes(tmp_path):
    """A push-down report has no samples, no per-agent tokens, services without tokens and a
    timeseries without cost (analyzer/pushdown.py): both renderers leave those blank."""
    agent_runs(tmp_path / "s.db", runs=10)
    rep = build_report(LocalSource(tmp_path / "s.db"), *HOUR).to_dict()
    for g in rep["groups"]:
        g["histogram"], g["latency_samples_ms"], g["latency_ms"]["max"] = None, [], None
    for s in rep["services"]:
        s.update(input_tokens=None, output_tokens=None, cost_usd=None, unpriced_tokens=None)
    del rep["timeseries"]["cost_usd"]
    rep["traces"] = {}
    text = terminal_text(rep)
    assert "None" not in text and "0/0" not in text
    page = render_html(rep)
    assert "None" not in page and page.count('data-chart="timeseries"') == 4 and "USD per" not in page and "no latency samples" in page
    assert f"<code title='not in this report: agent-otel trace {rep['slowest_traces'][0]['trace_id']}'>" in page  # shown, not a dead link
