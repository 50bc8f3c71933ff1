"""The HTML report in a real browser (headless Chromium over its DevTools protocol): it renders
with no script error and no network request, every chart has its axes and marks, it fits 1280 px,
and clicking a trace id opens that trace's waterfall. Skipped, saying why, without a browser."""

from __future__ import annotations

import pytest

from agent_otel import semconv
from agent_otel.analyzer import build_report
from agent_otel.analyzer.render.html import render as render_html
from agent_otel.analyzer.report import Baseline
from agent_otel.analyzer.sources.local import LocalSource
from spanwriter import MS, T0, Writer

pytest.importorskip("websockets", reason="websockets not installed (dev extra): the browser test talks to Chromium over a websocket")
from cdp import Browser, find_browser  # noqa: E402

BROWSER = find_browser()
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no chromium/google-chrome on PATH (Debian: apt-get install chromium); the HTML report is not checked in a browser")

CHARTS = """[...document.querySelectorAll('svg.chart')].map(s => ({
  kind: s.dataset.chart,
  x: s.querySelectorAll('g.axis.x text').length,
  y: s.querySelectorAll('g.axis.y text').length,
  marks: s.querySelectorAll('.mark').length,
  inTrace: !!s.closest('.trace')}))"""
VISIBLE = "[...document.querySelectorAll('section.trace')].filter(t => getComputedStyle(t).display !== 'none' && t.offsetHeight > 0).map(t => t.id)"


@pytest.fixture(scope="module")
def browser():
    b = Browser(BROWSER, width=1280, height=900)
    yield b
    b.close()


def report_page(tmp_path):
    w = Writer(tmp_path / "s.db")
    for i in range(60):
        slow = i >= 30
        root = w.span("agent", "bot", i * 400, 250 if slow else 120)
        w.span("llm", "gpt-4o", i * 400 + 1, 80 if slow else 40, parent=root, **{semconv.GEN_AI_REQUEST_MODEL: "gpt-4o",
               semconv.GEN_AI_USAGE_INPUT_TOKENS: 900, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 90})
        tool = w.span("tool", "search", i * 400 + 90, 100, parent=root, error="TimeoutError" if i % 7 == 0 else None,
                      events=[("exception", 99, {"exception.type": "TimeoutError", "exception.message": "slow"})] if i % 7 == 0 else ())
        if i % 7 == 0:
            w.log(tool, i * 400 + 189, "ERROR", "search timed out")
    src = LocalSource(tmp_path / "s.db")
    mid = T0 + 12_000 * MS
    base = Baseline.from_frame("first half", src.spans(T0, mid, None), src.resources(T0, mid, None))
    data = build_report(src, mid, T0 + 30_000 * MS, baseline=base).to_dict()
    path = tmp_path / "report.html"
    path.write_text(render_html(data))
    return path, data


def test_report_renders_cleanly_with_axes_and_marks_on_every_chart(browser, tmp_path):
    path, data = report_page(tmp_path)
    browser.events.clear()
    browser.open(path.as_uri())
    assert browser.errors() == []
    assert [u for u in browser.requests() if not u.startswith(("file:", "data:", "about:"))] == []  # fetches nothing
    charts = browser.eval(CHARTS)
    kinds = [c["kind"] for c in charts if not c["inTrace"]]
    assert kinds.count("histogram") == len(data["groups"]) and kinds.count("timeseries") == 5 and "bars" in kinds
    for c in charts:
        assert c["x"] >= 2 and c["y"] >= 1 and c["marks"] >= 1, c
    assert browser.eval("document.documentElement.scrollWidth") <= 1280  # readable at 1280 px: no sideways scrolling
    assert browser.eval(VISIBLE) == []  # waterfalls stay closed until asked for


def test_clicking_a_trace_id_opens_its_waterfall(browser, tmp_path):
    path, data = report_page(tmp_path)
    browser.open(path.as_uri())
    slow_id = data["slowest_traces"][0]["trace_id"]
    browser.click(f"a.tid[href='#trace-{slow_id}']")
    assert browser.eval(VISIBLE) == [f"trace-{slow_id}"]
    shown = browser.eval(f"document.getElementById('trace-{slow_id}').querySelectorAll('svg.waterfall rect.mark').length")
    assert shown == len(data["traces"][slow_id]["spans"]) == 3
    assert browser.eval(f"document.getElementById('trace-{slow_id}').querySelectorAll('rect.mark.critical').length") >= 2

    error_id = data["errors"][0]["trace_id"]
    browser.click(f"a.tid[href='#trace-{error_id}']")  # from the top-errors table: the failing trace, with its log line
    assert browser.eval(VISIBLE) == [f"trace-{error_id}"]
    text = browser.eval(f"document.getElementById('trace-{error_id}').innerText")
    assert "search timed out" in text and "TimeoutError" in text
    assert browser.eval(f"document.getElementById('trace-{error_id}').querySelectorAll('rect.mark.error').length") == 1
    assert browser.errors() == []


def test_printing_shows_every_waterfall(browser, tmp_path):
    path, data = report_page(tmp_path)
    browser.open(path.as_uri())
    browser.call("Emulation.setEmulatedMedia", media="print")
    try:
        assert len(browser.eval(VISIBLE)) == len(data["traces"]) > 1
    finally:
        browser.call("Emulation.setEmulatedMedia", media="")
