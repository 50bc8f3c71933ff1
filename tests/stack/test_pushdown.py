"""Analyzer push-down against the real backends: the same window reported from raw Jaeger spans and
from PromQL/LogQL agrees on counts, errors and tokens exactly, on percentiles to the histogram's
resolution, finds the same slowest trace, and fetches a bounded number of traces."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from agent_otel.analyzer import pushdown
from agent_otel.analyzer.report import build_report
from agent_otel.analyzer.sources.stack import StackSource
from loadgen.backends import poll, prom_value

pytestmark = pytest.mark.stack
RUNS = 300
EDGES = [0, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000]  # spanmetrics buckets (ms), collector-config.yaml


def bucket_around(value_ms: float) -> tuple[float, float]:
    """The histogram bucket holding `value_ms`, widened by one bucket each side (interpolation at edges)."""
    i = max(j for j, e in enumerate(EDGES) if e <= value_ms)
    return EDGES[max(i - 1, 0)], EDGES[min(i + 2, len(EDGES) - 1)]

AGENT = textwrap.dedent(
    """
    import logging, sys, time, random
    import agent_otel
    agent_otel.configure(sys.argv[1], exporter="otlp", endpoint=sys.argv[2], metric_interval=1)
    random.seed(7)

    @agent_otel.tool("search")
    def search(i):
        time.sleep(random.uniform(0.001, 0.004) + (0.15 if i == 123 else 0))
        if i % 10 == 0:
            raise TimeoutError("search backend timed out")

    @agent_otel.llm(model="gpt-4o-mini", provider="openai")
    def chat(i):
        agent_otel.record_usage(input_tokens=100 + i % 7, output_tokens=20)

    @agent_otel.agent("planner")
    def run(i):
        with agent_otel.step("retrieve"):
            try:
                search(i)
            except TimeoutError:
                logging.getLogger("agent").error("search %d timed out", i)
        chat(i)

    for i in range(int(sys.argv[3])):
        run(i)
    time.sleep(2.5)
    agent_otel.shutdown()
    """
)


def test_pushdown_report_agrees_with_the_raw_report(stack):
    urls, service = stack.urls, f"pushdown-{uuid.uuid4().hex[:6]}"
    start = time.time_ns() - 2 * 10**9
    proc = subprocess.run([sys.executable, "-c", AGENT, service, urls["otlp_grpc"], str(RUNS)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    spans = RUNS * 4
    poll(lambda: prom_value(urls["prometheus"], f'sum(traces_span_metrics_calls_total{{service_name="{service}"}})'), until=lambda v: v >= spans, timeout=60)
    poll(lambda: prom_value(urls["prometheus"], f'sum(gen_ai_client_token_usage_sum{{service_name="{service}"}})'), until=lambda v: v > 0, timeout=60)
    time.sleep(2)
    end = time.time_ns()
    def source() -> StackSource:  # a fresh one per report, as each `agent-otel report` run has
        return StackSource(jaeger=urls["jaeger_query"], prometheus=urls["prometheus"], loki=urls["loki"])

    raw = build_report(source(), start, end, service=service).to_dict()
    down = pushdown.build_pushdown_report(source(), start, end, service=service).to_dict()

    assert down["totals"]["spans"] == raw["totals"]["spans"] == spans
    assert down["totals"]["errors"] == raw["totals"]["errors"] == RUNS // 10
    assert down["totals"]["input_tokens"] == raw["totals"]["input_tokens"]
    assert down["totals"]["output_tokens"] == raw["totals"]["output_tokens"] == RUNS * 20
    assert down["services"][0]["traces"] == RUNS
    rg = {(g["kind"], g["name"]): g for g in raw["groups"]}
    dg = {(g["kind"], g["name"]): g for g in down["groups"]}
    assert set(dg) == set(rg)
    for key, g in dg.items():
        assert (g["count"], g["errors"]) == (rg[key]["count"], rg[key]["errors"]), key
        lo, hi = bucket_around(rg[key]["latency_ms"]["p95"])
        assert lo <= g["latency_ms"]["p95"] <= hi, (key, g["latency_ms"], rg[key]["latency_ms"])
    assert down["slowest_traces"][0]["trace_id"] == raw["slowest_traces"][0]["trace_id"]
    assert down["errors"][0]["count"] == RUNS // 10 and down["errors"][0]["name"] == "search"
    for report in (raw, down):  # the example trace's error log line, from Loki
        assert "timed out" in (report["errors"][0]["log_excerpt"] or ""), report["errors"][0]
    assert down["traces_fetched"] <= pushdown.SAMPLE_TRACES + pushdown.SLOW_TRACES
