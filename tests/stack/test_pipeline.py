"""End to end through the real pipeline: SDK -> collector -> Jaeger, Prometheus, Loki.

Runs the decorated agent in a child process (its own global OpenTelemetry providers), then finds
the trace with its parent/child structure in Jaeger, the duration and token metrics in
Prometheus and the correlated log line in Loki, each through the backend's own query API.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import httpx
import pytest

from loadgen.backends import poll

pytestmark = pytest.mark.stack

AGENT = textwrap.dedent(
    """
    import json, logging, sys
    import agent_otel

    agent_otel.configure("e2e-agent", exporter="otlp", endpoint=sys.argv[1], metric_interval=1)
    logging.getLogger().setLevel(logging.INFO)
    log = logging.getLogger("e2e")

    @agent_otel.tool("lookup")
    def lookup(q):
        log.warning("lookup of %s slow", q)
        return q

    @agent_otel.llm(model="gpt-4o", provider="openai")
    def chat(q):
        agent_otel.record_usage(input_tokens=321, output_tokens=45)
        return "ok"

    @agent_otel.agent("e2e-planner")
    def run(q):
        with agent_otel.step("retrieve"):
            lookup(q)
        return chat(q)

    run("weather")
    import time; time.sleep(2.5)  # let one more metric export run
    agent_otel.shutdown()
    """
)


def total(rows):
    return sum(float(r["value"][1]) for r in rows or [])


@pytest.mark.parametrize(
    "configs",
    [
        ["collector-config.yaml"],
        ["collector-config.yaml", "deploy/collector/auth.yaml", "deploy/collector/tls.yaml"],
        ["collector-config.yaml", "deploy/collector/sampling.yaml"],  # sidecar sampling, and the gateway
        ["collector-config.yaml", "deploy/gateway/forward.yaml"],  # the agent tier in front of gateways
        ["collector-config.yaml", "deploy/collector/redact-emails.yaml"],
    ],
    ids=["single", "auth+tls", "sampling", "forward", "redact-emails"],
)
def test_collector_configs_validate(stack, configs):
    from agent_otel.stack import binaries

    argv = [str(binaries.COLLECTOR.path), "validate"]
    for c in configs:
        argv += ["--config", c]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_loadbalancing_config_validates_apart_from_the_exporter_we_cannot_build(stack, tmp_path):
    """deploy/gateway/loadbalancing.yaml runs on otelcol-contrib; here its receivers, processors and
    the OTLP settings it forwards with are validated by our distribution (loadbalancing -> otlp)."""
    import yaml

    from agent_otel.stack import binaries

    cfg = yaml.safe_load(open("deploy/gateway/loadbalancing.yaml"))
    lb = cfg["exporters"].pop("loadbalancing")
    cfg["exporters"]["otlp"] = {**lb["protocol"]["otlp"], "endpoint": "otel-gateway-headless.observability:4317"}
    cfg["service"]["pipelines"]["traces"]["exporters"] = ["otlp"]
    (tmp_path / "lb.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([str(binaries.COLLECTOR.path), "validate", "--config", str(tmp_path / "lb.yaml")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_prometheus_remote_write_config_passes_promtool(stack):
    from agent_otel.stack import binaries

    binaries.install(binaries.PROMTOOL, lambda _line: None)
    proc = subprocess.run([str(binaries.PROMTOOL.path), "check", "config", "deploy/scale/prometheus-remote-write.yaml"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_agent_telemetry_reaches_jaeger_prometheus_and_loki(stack, tmp_path):
    urls = stack.urls
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    proc = subprocess.run([sys.executable, str(script), urls["otlp_grpc"]], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr

    def find_trace():
        r = httpx.get(f"{urls['jaeger_query']}/api/traces", params={"service": "e2e-agent", "limit": 5}, timeout=5)
        data = r.json().get("data") or []
        return data[0] if data and len(data[0]["spans"]) >= 4 else None

    trace = poll(find_trace)
    assert trace, "trace not found in Jaeger"
    spans = {s["operationName"]: s for s in trace["spans"]}
    assert {"invoke_agent e2e-planner", "retrieve", "execute_tool lookup", "chat gpt-4o"} <= set(spans)

    def parent(name):
        refs = spans[name].get("references") or []
        return next((r["spanID"] for r in refs if r["refType"] == "CHILD_OF"), None)

    assert parent("retrieve") == spans["invoke_agent e2e-planner"]["spanID"]
    assert parent("execute_tool lookup") == spans["retrieve"]["spanID"]
    assert parent("chat gpt-4o") == spans["invoke_agent e2e-planner"]["spanID"]
    trace_id = trace["traceID"]

    def prom(query):
        r = httpx.get(f"{urls['prometheus']}/api/v1/query", params={"query": query}, timeout=5).json()
        return r["data"]["result"]

    # Prometheus ingests a cumulative series' start as a 0 sample first: wait for the real value
    tokens = poll(lambda: prom('sum by (gen_ai_token_type) (gen_ai_client_token_usage_sum{service_name="e2e-agent"})'), until=lambda r: total(r) == 366)
    assert {t["metric"]["gen_ai_token_type"]: float(t["value"][1]) for t in tokens} == {"input": 321.0, "output": 45.0}
    durations = poll(lambda: prom('gen_ai_client_operation_duration_seconds_count{service_name="e2e-agent"}'), until=lambda r: total(r) == 1)
    assert total(durations) == 1
    by_kind = poll(lambda: prom('sum by (agent_otel_kind) (agent_otel_duration_seconds_count{service_name="e2e-agent"})'), until=lambda r: total(r) == 4)
    assert {r["metric"]["agent_otel_kind"]: float(r["value"][1]) for r in by_kind} == {"agent": 1, "step": 1, "tool": 1, "llm": 1}
    calls = poll(lambda: prom('traces_span_metrics_calls_total{service_name="e2e-agent"}'), until=lambda r: total(r) == 4)
    assert total(calls) == 4, calls

    def loki_line():
        now = time.time_ns()
        r = httpx.get(
            f"{urls['loki']}/loki/api/v1/query_range",
            params={"query": '{service_name="e2e-agent"}', "start": str(now - 600 * 10**9), "end": str(now)},
            timeout=5,
        ).json()
        for stream in r["data"]["result"]:
            for value in stream["values"]:
                meta = value[2] if len(value) > 2 else {}
                labels = {**stream["stream"], **(meta.get("structuredMetadata") or {})}
                if "lookup of weather slow" in value[1]:
                    return labels
        return None

    labels = poll(loki_line)
    assert labels, "log line not found in Loki"
    assert labels.get("trace_id") == trace_id
    assert labels.get("span_id") == spans["execute_tool lookup"]["spanID"]


def test_operator_collector_config_validates(stack, tmp_path):
    import os

    import yaml

    from agent_otel.stack import binaries

    collector = next(yaml.safe_load_all(open("deploy/kubernetes/operator/collector-sidecar.yaml")))
    config = tmp_path / "operator-config.yaml"
    config.write_text(yaml.safe_dump(collector["spec"]["config"]))
    env = {**os.environ, **{e["name"]: e["value"] for e in collector["spec"]["env"]}}
    proc = subprocess.run([str(binaries.COLLECTOR.path), "validate", "--config", str(config)], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
