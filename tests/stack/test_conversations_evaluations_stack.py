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
