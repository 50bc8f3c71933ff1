"""The analyzer's backend sources against the real stack: the same agent run, reported from the
local store and from Jaeger/Loki/Prometheus, gives the same figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.stack


def demo(tmp_path, name, *extra, env=None):
    out = tmp_path / f"{name}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "agent_otel.cli", "demo", "--runs", "6", "--concurrency", "1", "--seed", "11", "--format", "json", "-o", str(out), *extra],
        capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


def test_stack_report_matches_local_report(stack, tmp_path):
    local = demo(tmp_path, "local", "--store", str(tmp_path / "local.db"))
    remote = demo(tmp_path, "stack", "--stack", env={"AGENT_OTEL_STACK_DIR": stack.data_dir})
    assert remote["source"] == "stack"

    def figures(rep):
        return {(g["kind"], g["name"]): (g["count"], g["errors"], g["input_tokens"], g["output_tokens"]) for g in rep["groups"]}

    assert figures(remote) == figures(local)
    assert remote["totals"]["traces"] == local["totals"]["traces"] == 6
    # the error table carries the correlated log line, found through Loki by trace id
    assert local["errors"], "seed 11 makes the calculator fail once"
    assert remote["errors"][0]["error_type"] == local["errors"][0]["error_type"] == "ValueError"
    assert "calculator could not parse" in (remote["errors"][0]["log_excerpt"] or "")
    # critical-path ranking from whole traces fetched from Jaeger names the same top bottleneck
    assert remote["bottlenecks"][0]["name"] == local["bottlenecks"][0]["name"]


def test_unreachable_backend_is_a_clear_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "agent_otel.cli", "report", "--source", "stack", "--jaeger", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "jaeger at http://127.0.0.1:9" in proc.stderr and "Traceback" not in proc.stderr
