"""The README's conversations / handoffs / evaluations lines, run as written (in a fresh process, into a
local store), then `agent-otel report --conversation chat-42` as the README shows it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from test_configure import run  # noqa: E402  (same directory)

README = Path(__file__).resolve().parents[3] / "README.md"

HARNESS = """
import asyncio
import agent_otel

@agent_otel.agent(name="billing")
async def billing(q):
    @agent_otel.llm(model="gpt-4o", provider="openai")
    async def chat():
        agent_otel.record_usage(input_tokens=120, output_tokens=30)
    await chat()
    return "refunded"

question = "refund please"

async def main():
{block}

asyncio.run(main())
asyncio.run(main())  # a second turn of the same conversation
agent_otel.shutdown()
"""


def _readme_block() -> tuple[str, str]:
    section = README.read_text().split("## MCP, conversations, handoffs, evaluations", 1)[1]
    python, shell = re.findall(r"```python\n(.*?)```", section, re.S)[0], re.findall(r"```bash\n(.*?)```", section, re.S)[0]
    return python, shell


def test_the_readme_lines_do_what_they_say(tmp_path):  # type: ignore[no-untyped-def]
    pytest.importorskip("langgraph")
    python, shell = _readme_block()
    lines = python.splitlines()
    setup = [l for l in lines if l.startswith(("agent_otel.configure", "agent_otel.instrument"))]
    body = [l for l in lines if l not in setup]
    code = HARNESS.replace("async def main():\n{block}", "\n".join(setup) + "\n\nasync def main():\n" + textwrap.indent("\n".join(body), "    "))
    store = tmp_path / "readme.db"
    done = run(code, env={"AGENT_OTEL_EXPORTER": "local", "AGENT_OTEL_STORE": str(store)})
    assert done.returncode == 0, done.stderr[-3000:]
    command = shell.split("#")[0].split()
    assert command[:2] == ["agent-otel", "report"], command
    out = tmp_path / "r.json"
    rep = subprocess.run([sys.executable, "-m", "agent_otel.cli", *command[1:], "--source", "local", "--store", str(store), "--format", "json",
                          "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert rep.returncode == 0, rep.stderr
    data = json.loads(out.read_text())
    (conv,) = data["conversations"]
    assert conv["conversation_id"] == "chat-42" and conv["turns"] == 2 and conv["input_tokens"] == 240 and conv["cost_usd"] > 0
    assert data["totals"]["evaluation"]["relevance"] == {"count": 2, "mean": 0.82, "min": 0.82, "max": 0.82, "labels": {"pass": 2}}
    triage = next(g for g in data["groups"] if g["kind"] == "agent" and g["name"] == "triage")
    assert triage["evaluation"]["relevance"]["count"] == 2  # on triage's span, as the comment says
    assert data["totals"]["traces"] == 2  # two turns, each one trace with the handoff inside
    import sqlite3

    rows = sqlite3.connect(store).execute("SELECT trace_id, name, attributes FROM spans").fetchall()
    by_trace: dict[str, dict[str, dict]] = {}
    for tid, name, attrs in rows:
        by_trace.setdefault(tid, {})[name] = json.loads(attrs)
    assert len(by_trace) == 2
    for spans in by_trace.values():
        assert spans["execute_tool transfer_to_billing"]["agent_otel.handoff.to"] == "billing"
        assert spans["invoke_agent billing"]["agent_otel.handoff.from"] == "triage"
        assert {a["gen_ai.conversation.id"] for a in spans.values()} == {"chat-42"}
        assert {a.get("user.id") for a in spans.values()} == {"u-7"}
