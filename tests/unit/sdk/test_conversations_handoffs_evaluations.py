"""Conversations, handoffs and evaluations end to end: configure() into a local store, then the report and an alert.

The run happens in a fresh process (configure() installs global providers once per process), as a
user's program would: three turns of one conversation (plus one of another), each turn an agent
that hands off to a second agent, with tool work on a thread pool, a plain thread and asyncio tasks,
and evaluations recorded inside and after the run.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from test_configure import run  # noqa: E402  (same directory)

PROGRAM = """
import asyncio, json, threading
from concurrent.futures import ThreadPoolExecutor
import agent_otel

agent_otel.configure("bot", exporter="local", store_path={store!r})

@agent_otel.tool(name="lookup")
def lookup(n):
    return n

@agent_otel.llm(model="gpt-4o", provider="openai")
async def chat(q):
    await asyncio.sleep(0.03)    # the slow part of a turn: behind the handoff
    agent_otel.record_usage(input_tokens=100, output_tokens=20)
    return "ok"

@agent_otel.agent(name="billing")
async def billing(q):
    await chat(q)
    agent_otel.record_evaluation("relevance", score={inner_score}, label="pass", explanation="on topic")
    return "paid"

@agent_otel.agent(name="triage")
async def triage(q):
    with ThreadPoolExecutor(2) as pool:                      # thread-pool hop
        assert list(pool.map(lookup, range(2))) == [0, 1]
    t = threading.Thread(target=lookup, args=(7,)); t.start(); t.join()   # plain thread hop
    await asyncio.gather(*(asyncio.create_task(asyncio.to_thread(lookup, i)) for i in range(2)))  # task + to_thread hops
    with agent_otel.handoff("billing"):
        out = await billing(q)
    return out, agent_otel.current_span()

async def main():
    kept = []
    for turn in range(3):
        with agent_otel.conversation("conv-1", user_id="u-9"):
            out, span = await triage(f"question {{turn}}")
            kept.append(span)
    agent_otel.record_evaluation("helpfulness", score=0.25, span=kept[0])      # after the run, tied to its span
    async with agent_otel.conversation("conv-2"):
        await triage("other")
    await chat("outside any conversation")

asyncio.run(main())
agent_otel.shutdown()
"""


def _program(path, score):  # type: ignore[no-untyped-def]
    proc = run(PROGRAM.format(store=str(path), inner_score=score))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):  # type: ignore[no-untyped-def]
    return _program(tmp_path_factory.mktemp("conv") / "s.db", 0.9)


def _spans(store):  # type: ignore[no-untyped-def]
    import sqlite3

    with sqlite3.connect(store) as db:
        return [(name, trace, parent, span, json.loads(attrs)) for name, trace, parent, span, attrs
                in db.execute("SELECT name, trace_id, parent_id, span_id, attributes FROM spans ORDER BY start_ns")]


def test_conversation_id_on_every_span_across_threads_and_tasks(store):  # type: ignore[no-untyped-def]
    spans = _spans(store)
    by_trace: dict[str, list] = {}
    for s in spans:
        by_trace.setdefault(s[1], []).append(s)
    conv1 = [t for t, ss in by_trace.items() if any(x[4].get("gen_ai.conversation.id") == "conv-1" for x in ss)]
    assert len(conv1) == 3  # three turns
    for trace in conv1:
        ss = by_trace[trace]
        assert sum(1 for x in ss if x[0] == "execute_tool lookup") == 5  # pool x2, thread, tasks x2: all in the turn's trace
        missing = [x[0] for x in ss if x[4].get("gen_ai.conversation.id") != "conv-1"]
        assert missing == [], f"spans without the conversation id: {missing}"
        assert all(x[4].get("user.id") == "u-9" for x in ss)
    assert {x[4].get("gen_ai.conversation.id") for x in spans if x[0] == "chat gpt-4o"} == {"conv-1", "conv-2", None}


def test_handoff_is_one_trace_with_the_receiver_under_the_caller(store):  # type: ignore[no-untyped-def]
    spans = _spans(store)
    by_id = {s[3]: s for s in spans}
    receivers = [s for s in spans if s[0] == "invoke_agent billing"]
    assert len(receivers) == 4
    for r in receivers:
        hand = by_id[r[2]]
        assert hand[0] == "execute_tool transfer_to_billing" and hand[4]["agent_otel.handoff.to"] == "billing"
        assert hand[4]["gen_ai.agent.name"] == "triage"
        caller = by_id[hand[2]]
        assert caller[0] == "invoke_agent triage" and caller[1] == r[1]  # one trace
        assert r[4]["agent_otel.handoff.from"] == "triage"


def test_evaluations_are_stored_tied_to_their_span(store):  # type: ignore[no-untyped-def]
    import sqlite3

    with sqlite3.connect(store) as db:
        rows = [(json.loads(a), t, s) for a, t, s in db.execute("SELECT attributes, trace_id, span_id FROM logs")]
    evals = [r for r in rows if r[0].get("event.name") == "gen_ai.evaluation.result"]
    assert len(evals) == 5
    inner = [r for r in evals if r[0]["gen_ai.evaluation.name"] == "relevance"]
    spans = {s[3]: s for s in _spans(store)}
    assert all(spans[r[2]][0] == "invoke_agent billing" and r[0]["gen_ai.agent.name"] == "billing" for r in inner)
    assert inner[0][0]["gen_ai.evaluation.score.value"] == 0.9 and inner[0][0]["gen_ai.evaluation.score.label"] == "pass"
    after = next(r for r in evals if r[0]["gen_ai.evaluation.name"] == "helpfulness")
    assert spans[after[2]][0] == "invoke_agent triage" and after[0]["gen_ai.conversation.id"] == "conv-1"


def _report(store, **kw):  # type: ignore[no-untyped-def]
    import time

    from agent_otel.analyzer.report import build_report
    from agent_otel.analyzer.sources.local import LocalSource

    now = time.time_ns()
    return build_report(LocalSource(store), now - 3600 * 10**9, now + 10**9, **kw).to_dict()


def test_report_groups_conversations_and_scores(store):  # type: ignore[no-untyped-def]
    data = _report(store)
    convs = {c["conversation_id"]: c for c in data["conversations"]}
    assert set(convs) == {"conv-1", "conv-2"}
    c1 = convs["conv-1"]
    assert c1["turns"] == 3 and len(c1["turn_detail"]) == 3 and c1["errors"] == 0
    assert c1["input_tokens"] == 300 and c1["output_tokens"] == 60 and c1["cost_usd"] > 0
    assert all(t["latency_ms"] > 0 for t in c1["turn_detail"])
    assert data["totals"]["evaluation"]["relevance"] == {"count": 4, "mean": 0.9, "min": 0.9, "max": 0.9, "labels": {"pass": 4}}
    billing = next(g for g in data["groups"] if g["kind"] == "agent" and g["name"] == "billing")
    assert billing["evaluation"]["relevance"]["mean"] == 0.9
    one = _report(store, conversation="conv-2")
    assert [c["conversation_id"] for c in one["conversations"]] == ["conv-2"]
    assert one["totals"]["traces"] == 1 and one["totals"]["evaluation"]["relevance"]["count"] == 1


def test_big_window_summary_report_lists_the_same_conversations(store):  # type: ignore[no-untyped-def]
    """A window big enough for per-minute summaries reads no raw window, yet lists every
    conversation whole (turns, tokens, cost, errors), as the raw-span report does."""
    raw, summarised = _report(store, summaries="never"), _report(store, summaries="always")
    assert summarised["figures_from"]["summaries"] >= 1
    assert summarised["conversations"] == raw["conversations"] and len(raw["conversations"]) == 2


def test_critical_path_crosses_the_handoff(store):  # type: ignore[no-untyped-def]
    data = _report(store, conversation="conv-1")
    for slow in data["slowest_traces"]:
        names = [p["name"] for p in slow["critical_path"]]
        assert slow["root"] == "agent triage" and "gpt-4o" in names, names  # the model call inside the receiving agent
    assert data["bottlenecks"][0]["name"] == "gpt-4o"


def test_scores_against_a_baseline(store, tmp_path):  # type: ignore[no-untyped-def]
    import io

    from rich.console import Console

    from agent_otel.cli.run import make_report
    from agent_otel.analyzer.sources.local import LocalSource

    base = tmp_path / "base.json"
    base.write_text(json.dumps(_report(store)))
    worse = _program(tmp_path / "worse.db", 0.45)
    rep = make_report(LocalSource(worse), since="1h", baseline=str(base), keep_overlap=True, console=Console(file=io.StringIO())).to_dict()
    assert rep["totals"]["evaluation"]["helpfulness"]["mean"] == 0.25, rep["evaluations"]
    cmp = rep["evaluations"]["baseline"]["relevance"]
    assert cmp["verdict"] == "degraded" and cmp["baseline_mean"] == 0.9 and cmp["mean"] == 0.45 and cmp["change_pct"] == -50.0
    assert rep["evaluations"]["baseline"]["helpfulness"]["verdict"] == "stable"


def test_report_cli_conversation_and_html(store, tmp_path):  # type: ignore[no-untyped-def]
    cli = [sys.executable, "-m", "agent_otel.cli", "report", "--source", "local", "--store", str(store)]
    term = subprocess.run([*cli, "--conversation", "conv-1"], capture_output=True, text=True, timeout=120)
    assert term.returncode == 0, term.stderr
    assert "Turns of conv-1" in term.stdout and "relevance" in term.stdout
    html = tmp_path / "r.html"
    done = subprocess.run([*cli, "--format", "html", "-o", str(html)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    page = html.read_text()
    assert "<h2>Conversations</h2>" in page and "<h2>Evaluations</h2>" in page and "conv-2" in page
    from agent_otel.analyzer.sources.base import SourceError

    with pytest.raises(SourceError, match="no spans of conversation 'nope'"):
        _report(store, conversation="nope")


def test_alert_rule_on_an_evaluation_score(store, tmp_path):  # type: ignore[no-untyped-def]
    from agent_otel.alerts.cycle import load_config, run_cycle
    from agent_otel.alerts.rules import RuleError
    from agent_otel.alerts.state import AlertStore
    from agent_otel.analyzer.sources.local import LocalSource

    def rules(figure, value, **extra):  # type: ignore[no-untyped-def]
        path = tmp_path / "alerts.yaml"
        rule = {"name": "LowHelpfulness", "scope": "totals", "figure": figure, "op": "<", "value": value, **extra}
        path.write_text(yaml.safe_dump({"rules": [rule], "receivers": []}))
        return path

    fired = run_cycle(load_config(rules("evaluation.helpfulness.mean", 0.5)), LocalSource(store), AlertStore(tmp_path / "a.db"), ignore_for=True)
    assert [(a.labels["alertname"], a.value) for a in fired.firing] == [("LowHelpfulness", 0.25)]
    quiet = run_cycle(load_config(rules("evaluation.relevance.mean", 0.5)), LocalSource(store), AlertStore(tmp_path / "b.db"), ignore_for=True)
    assert quiet.firing == []
    per_agent = rules("evaluation.relevance.mean", 0.95, scope="groups", select={"kind": "agent", "name": "billing"})
    assert [a.labels.get("name") for a in run_cycle(load_config(per_agent), LocalSource(store), AlertStore(tmp_path / "c.db"), ignore_for=True).firing] == ["billing"]
    with pytest.raises(RuleError, match="unknown statistic 'avg'"):
        load_config(rules("evaluation.helpfulness.avg", 0.5))
