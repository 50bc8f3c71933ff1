"""Every panel query of the shipped Grafana dashboard, run against the real Prometheus, Loki and
Jaeger after the demo has sent its telemetry through the collector: each returns data, and every
series carries the labels its legend uses.

GPU panels: no GPU here, so GPU readings are fed through NVML's recorded-readings seam
(`resources.gpu.register` with a `GpuReader` that replays readings) in a process that exports
through the same collector — the hw.gpu.* series travel the real pipeline; only NVML is replaced.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import httpx
import pytest

from agent_otel.analyzer.sources.loki import Loki
from agent_otel.analyzer.sources.prometheus import Prometheus
from agent_otel.dashboards.queries import PANELS, SERVICE, TRACE_SERVICE, PanelSpec, Query

pytestmark = pytest.mark.stack

SERVICE_NAME = "agent-otel-demo"
GRAFANA_VARS = {f"${SERVICE}": ".+", f"${TRACE_SERVICE}": SERVICE_NAME, "$__rate_interval": "2m", "$__auto": "2m"}

GPU_FEEDER = textwrap.dedent("""
    import sys, time
    import agent_otel
    from opentelemetry import metrics
    from agent_otel.resources import gpu

    class Recorded:  # readings as NVML gave them on an A100, replayed
        def read(self):
            return [gpu.GpuReading(0, "NVIDIA A100-SXM4-40GB", "GPU-6f1c2d3e", 0.62, 21 * 2**30, 40 * 2**30, 54.0, 210.0, {}),
                    gpu.GpuReading(1, "NVIDIA A100-SXM4-40GB", "GPU-8a9b0c1d", 0.18, 3 * 2**30, 40 * 2**30, 41.0, 95.0, {})]

    agent_otel.configure(sys.argv[2], exporter="otlp", endpoint=sys.argv[1], metric_interval=1)
    gpu.register(metrics.get_meter_provider().get_meter("agent_otel.resources"), Recorded())
    time.sleep(5)
    agent_otel.shutdown()
""")


def grafana(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr


@pytest.fixture(scope="module")
def fed(stack, tmp_path_factory):
    env = {**os.environ, "AGENT_OTEL_STACK_DIR": stack.data_dir}
    out = tmp_path_factory.mktemp("dash") / "demo.json"
    demo = subprocess.run([sys.executable, "-m", "agent_otel.cli", "demo", "--stack", "--runs", "40", "--seed", "7", "--format", "json", "-o", str(out)],
                          capture_output=True, text=True, timeout=240, env=env)
    assert demo.returncode == 0, demo.stderr
    feeder = subprocess.run([sys.executable, "-c", GPU_FEEDER, stack.urls["otlp_grpc"], SERVICE_NAME], capture_output=True, text=True, timeout=120)
    assert feeder.returncode == 0, feeder.stderr
    stack.demo_report = json.loads(out.read_text())
    return stack


def answers(stack, spec: PanelSpec, q: Query) -> list[dict[str, str]]:
    """The label sets of the series (or log streams, or traces) the query returns now."""
    expr = grafana(q.expr)
    now = time.time_ns()
    if spec.datasource == "prometheus":
        return [r["metric"] for r in Prometheus(stack.urls["prometheus"]).query(expr)]
    if spec.datasource == "loki":
        loki = Loki(stack.urls["loki"])
        if spec.kind == "logs":
            return [labels for _ts, _line, labels in loki.query_range(expr, now - 15 * 60 * 10**9, now, limit=50)]
        data = loki.api.get_json("/loki/api/v1/query", {"query": expr, "time": str(now)})
        return [r["metric"] for r in data["data"]["result"]]
    # Grafana's Jaeger datasource searches through the query service's /api/traces
    resp = httpx.get(f"{stack.urls['jaeger_query']}/api/traces", params={"service": expr, "limit": 20, "lookback": "1h"}, timeout=10)
    resp.raise_for_status()
    return [{"service_name": p["serviceName"], "trace_id": t["traceID"]} for t in resp.json()["data"] for p in t["processes"].values()]


CASES = [(spec, q) for spec in PANELS for q in spec.queries]


@pytest.mark.parametrize(("spec", "q"), CASES, ids=[f"{s.title}/{q.ref}" for s, q in CASES])
def test_panel_query_returns_data_with_its_labels(fed, spec, q):
    deadline = time.monotonic() + 60  # spanmetrics and OTLP metrics land within an export interval or two
    while True:
        rows = answers(fed, spec, q)
        if rows or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert rows, f"{spec.title}: {grafana(q.expr)!r} returned nothing"
    for labels in rows:
        missing = [name for name in q.labels if not labels.get(name)]
        assert not missing, f"{spec.title}: series {labels} lacks {missing}"
    if spec.datasource == "jaeger":
        assert {r["service_name"] for r in rows} == {SERVICE_NAME}
    if spec.needs == "gpu":
        assert {r["hw_id"] for r in rows} == {"GPU-6f1c2d3e", "GPU-8a9b0c1d"}


def test_trace_view_from_jaeger_and_loki(fed):
    """The demo's report (read from the stack) embeds its failing trace, log line from Loki included;
    `agent-otel trace ID --source stack` prints the same trace as a waterfall."""
    rep = fed.demo_report
    assert rep["source"] == "stack" and rep["errors"], "seed 7 makes the calculator fail"
    tid = rep["errors"][0]["trace_id"]
    view = rep["traces"][tid]
    failed = next(s for s in view["spans"] if s["error"])
    assert failed["target"] == "calculator" and failed["span_kind"] == "INTERNAL"
    assert any("could not parse" in line["body"] for line in failed["logs"])  # correlated through Loki by trace and span id
    assert any(e["name"] == "exception" for e in failed["events"])
    proc = subprocess.run([sys.executable, "-m", "agent_otel.cli", "trace", tid, "--source", "stack", "--jaeger", fed.urls["jaeger_query"], "--loki", fed.urls["loki"]],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"trace {tid}" in proc.stdout and "tool calculator" in proc.stdout and "could not parse" in proc.stdout
