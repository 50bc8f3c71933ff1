"""Conversations and evaluations through the real stack: spans via the collector into Jaeger, the
`gen_ai.evaluation.result` events into Loki, and the report built from them (`--source stack`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.stack

PROGRAM = """
import asyncio
import agent_otel

agent_otel.configure("conv-stack-bot")

@agent_otel.llm(model="gpt-4o", provider="openai")
async def chat(q):
    agent_otel.record_usage(input_tokens=100, output_tokens=20)
    return "ok"

@agent_otel.agent(name="helper")
async def helper(q):
    await chat(q)
    agent_otel.record_evaluation("relevance", score=0.4, label="fail")
    return "done"

async def main():
    for turn in range(2):
        with agent_otel.conversation("stack-conv"):
            await helper(f"q{turn}")

asyncio.run(main())
agent_otel.shutdown()
"""


def test_conversation_and_evaluations_from_jaeger_and_loki(stack, tmp_path):
    env = {**os.environ, "AGENT_OTEL_STACK_DIR": stack.data_dir}
    env = {k: v for k, v in env.items() if not k.startswith("OTEL_")}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(PROGRAM)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "r.json"
    cmd = [sys.executable, "-m", "agent_otel.cli", "report", "--source", "stack", "--service", "conv-stack-bot", "--since", "10m",
           "--pushdown", "never", "--format", "json", "-o", str(out)]
    deadline, data = time.monotonic() + 60, {}
    while time.monotonic() < deadline:  # the collector batches; Loki and Jaeger index within seconds
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
        if done.returncode == 0:
            data = json.loads(out.read_text())
            if data["totals"].get("evaluation", {}).get("relevance", {}).get("count") == 2 and data.get("conversations"):
                break
        time.sleep(2)
    assert data, done.stderr
    conv = data["conversations"][0]
    assert conv["conversation_id"] == "stack-conv" and conv["turns"] == 2 and conv["input_tokens"] == 200
    assert data["totals"]["evaluation"]["relevance"]["mean"] == pytest.approx(0.4)
    assert data["totals"]["evaluation"]["relevance"]["labels"] == {"fail": 2}
    helper = next(g for g in data["groups"] if g["kind"] == "agent" and g["name"] == "helper")
    assert helper["evaluation"]["relevance"]["count"] == 2


SAME_RUN = """
import asyncio, sys
import agent_otel
from opentelemetry import trace
from opentelemetry._logs import get_logger_provider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from agent_otel.localstore import open_exporters

agent_otel.configure("conv-eq-bot")  # the running stack (AGENT_OTEL_STACK_DIR): OTLP to its collector
local = open_exporters(sys.argv[1])  # and the same spans and events into a local store, for the comparison
trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(local.spans))
get_logger_provider().add_log_record_processor(SimpleLogRecordProcessor(local.logs))

@agent_otel.llm(model="gpt-4o", provider="openai")
async def chat(q):
    agent_otel.record_usage(input_tokens=100 + len(q), output_tokens=20)
    return "ok"

@agent_otel.llm(model="gpt-4o-mini", provider="openai")
async def judge(q):
    agent_otel.record_usage(input_tokens=50, output_tokens=5)
    agent_otel.record_evaluation("faithful", score=0.9)
    return "ok"

@agent_otel.agent(name="helper")
async def helper(q, i):
    await chat(q)
    await judge(q)
    agent_otel.record_evaluation("relevance", score=0.2 * i, label="pass" if i > 1 else "fail")
    if i == 2:
        raise RuntimeError("turn failed")
    return "done"

async def main():
    for turn in range(4):
        async with agent_otel.conversation("conv-a", user_id="u-1"):
            try:
                await helper(f"question {turn}", turn)
            except RuntimeError:
                pass
    async with agent_otel.conversation("conv-b"):
        await helper("x", 4)
    await helper("outside any conversation", 1)

asyncio.run(main())
agent_otel.shutdown()
"""


def _report(env, tmp_path, *args):  # type: ignore[no-untyped-def]
    out = tmp_path / "r.json"
    cmd = [sys.executable, "-m", "agent_otel.cli", "report", "--service", "conv-eq-bot", "--since", "10m", "--format", "json", "-o", str(out), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def _conversations(data):  # type: ignore[no-untyped-def]
    """What must agree between sources: per conversation, its turns (trace ids), tokens, cost, errors."""
    return {c["conversation_id"]: (c["turns"], c["input_tokens"], c["output_tokens"], c["cost_usd"], c["errors"],
                                   sorted(t["trace_id"] for t in c["turn_detail"])) for c in data["conversations"]}


def test_stack_reports_equal_the_local_store_for_the_same_run(stack, tmp_path):
    """One run sent through configure() to the real collector and, beside it, into a local store: the
    stack's report (raw Jaeger spans and Loki, and push-down) lists the same conversations and scores."""
    store = tmp_path / "same.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["AGENT_OTEL_STACK_DIR"] = stack.data_dir
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(SAME_RUN), str(store)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    local = _report(env, tmp_path, "--source", "local", "--store", str(store))
    assert local["evaluations"]["count"] == 12  # 6 runs: relevance and faithful each
    assert _conversations(local)["conv-a"][:5] == (4, 4 * 100 + 4 * 10 + 4 * 50, 4 * 25, _conversations(local)["conv-a"][3], 1)  # the failed turn
    deadline, stack_raw = time.monotonic() + 90, {}
    while time.monotonic() < deadline:  # the collector batches; Jaeger and Loki index within seconds
        stack_raw = _report(env, tmp_path, "--source", "stack", "--pushdown", "never")
        if stack_raw["evaluations"].get("count") == 12 and _conversations(stack_raw) == _conversations(local):
            break
        time.sleep(2)
    assert _conversations(stack_raw) == _conversations(local)
    assert stack_raw["evaluations"]["totals"] == local["evaluations"]["totals"]
    assert stack_raw["evaluations"]["agents"] == local["evaluations"]["agents"]
    assert stack_raw["evaluations"]["models"] == local["evaluations"]["models"]
    assert local["evaluations"]["totals"]["relevance"] == {"count": 6, "mean": pytest.approx(2.2 / 6, abs=1e-6), "min": 0.0, "max": 0.8,
                                                            "labels": {"fail": 3, "pass": 3}}
    helper = [g for g in stack_raw["groups"] if g["kind"] == "agent" and g["name"] == "helper"]
    assert helper[0]["evaluation"] == next(g for g in local["groups"] if g["kind"] == "agent" and g["name"] == "helper")["evaluation"]

    pushed = _report(env, tmp_path, "--source", "stack", "--pushdown", "always")  # figures in Prometheus/Loki
    assert pushed["source"] == "stack (push-down)"
    assert _conversations(pushed) == _conversations(local)
    assert pushed["evaluations"]["totals"] == local["evaluations"]["totals"]
    assert pushed["evaluations"]["models"] == local["evaluations"]["models"]

    one_local = _report(env, tmp_path, "--source", "local", "--store", str(store), "--conversation", "conv-a")
    one_stack = _report(env, tmp_path, "--source", "stack", "--conversation", "conv-a")
    assert _conversations(one_stack) == _conversations(one_local) == {"conv-a": _conversations(local)["conv-a"]}
    assert one_stack["totals"]["spans"] == one_local["totals"]["spans"] == 4 * 3
    assert one_stack["evaluations"]["totals"] == one_local["evaluations"]["totals"]
    assert one_stack["evaluations"]["totals"]["relevance"]["count"] == 4

    html = subprocess.run([sys.executable, "-m", "agent_otel.cli", "report", "--service", "conv-eq-bot", "--since", "10m", "--source", "stack",
                           "--pushdown", "never", "--format", "html", "-o", str(tmp_path / "r.html")], capture_output=True, text=True, timeout=180, env=env)
    assert html.returncode == 0, html.stderr[-2000:]
    page = (tmp_path / "r.html").read_text()
    assert "<h2>Conversations</h2>" in page and "conv-a" in page and "<h2>Evaluations</h2>" in page and "relevance" in page

    rules = tmp_path / "rules.yaml"  # an alert on a mean score, evaluated against the stack
    rules.write_text("window: 10m\nreceivers: []\nrules:\n  - name: LowRelevance\n    scope: totals\n"
                     "    figure: evaluation.relevance.mean\n    op: '<'\n    value: 0.5\n")
    check = subprocess.run([sys.executable, "-m", "agent_otel.cli", "alerts", "check", "-r", str(rules), "--source", "stack",
                            "--store", str(tmp_path / "alerts.db"), "--service", "conv-eq-bot"], capture_output=True, text=True, timeout=180, env=env)
    assert check.returncode == 1 and "LowRelevance" in check.stdout + check.stderr, check.stdout + check.stderr
    rules.write_text(rules.read_text().replace("value: 0.5", "value: 0.3"))
    check = subprocess.run([sys.executable, "-m", "agent_otel.cli", "alerts", "check", "-r", str(rules), "--source", "stack",
                            "--store", str(tmp_path / "alerts.db"), "--service", "conv-eq-bot"], capture_output=True, text=True, timeout=180, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
