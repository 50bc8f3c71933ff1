"""Alerts through the real stack: a latency spike sent with the SDK fires the exported rule in
Prometheus, Alertmanager routes it to the test's webhook; agent-otel's own Alertmanager receiver
pushes to the same Alertmanager's API."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import httpx
import pytest

from agent_otel.stack import binaries

pytestmark = pytest.mark.stack

SPIKE = textwrap.dedent(
    """
    import sys, time
    import agent_otel
    agent_otel.configure("spike-agent", exporter="otlp", endpoint=sys.argv[1], metric_interval=1)

    @agent_otel.tool("spike_tool")
    def spike_tool():
        time.sleep(0.4)

    for _ in range(5):
        spike_tool()
    time.sleep(2.5)
    agent_otel.shutdown()
    """
)


def wait_for(fn, timeout_s=90):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = fn()
        if found:
            return found
        time.sleep(1)
    return None


def test_exported_rules_pass_promtool(tmp_path):
    binaries.install(binaries.PROMTOOL, lambda _l: None)
    rules = tmp_path / "rules.yml"
    proc = subprocess.run([sys.executable, "-m", "agent_otel.cli", "alerts", "export", "-r", "examples/alerts.yaml", "-o", str(rules)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    check = subprocess.run([str(binaries.PROMTOOL.path), "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "SUCCESS: 6 rules found" in check.stdout, check.stdout + check.stderr


def test_latency_spike_reaches_the_webhook_through_prometheus_and_alertmanager(stack, webhook, tmp_path):
    script = tmp_path / "spike.py"
    script.write_text(SPIKE)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(script), stack.urls["otlp_grpc"]], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr

    def fired():
        return next((b for b in webhook.bodies if b["commonLabels"].get("alertname") == "SpikeToolSlow" and b["status"] == "firing"), None)

    body = wait_for(fired)
    assert body, f"no notification; webhook got {webhook.bodies}"
    alert = body["alerts"][0]
    assert alert["labels"]["severity"] == "critical" and alert["labels"]["agent_otel_name"] == "spike_tool"
    assert float(alert["annotations"]["summary"].split("is ")[1].split(" ms")[0]) > 200
    print(f"spike -> webhook in {time.monotonic() - t0:.1f}s")


def test_agent_otel_pushes_to_the_real_alertmanager(stack, webhook, tmp_path):
    from agent_otel.alerts.notify import Receiver
    from agent_otel.alerts.state import Alert

    am = Receiver("alertmanager", "alertmanager", stack.urls["alertmanager"])
    now = time.time()
    alert = Alert("f1", "firing", {"alertname": "PushedByAgentOtel", "severity": "warning"}, {"summary": "pushed"}, 1.0, now, now)
    am.send(am.body([alert], {}))
    listed = httpx.get(stack.urls["alertmanager"] + "/api/v2/alerts", timeout=5).json()
    assert any(a["labels"]["alertname"] == "PushedByAgentOtel" for a in listed)
    assert wait_for(lambda: any(b["commonLabels"].get("alertname") == "PushedByAgentOtel" for b in webhook.bodies), 30)
