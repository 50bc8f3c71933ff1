"""A LangGraph multi-agent graph (two `create_agent` agents, a handoff tool returning
`Command(goto=..., graph=Command.PARENT)`, and a node handing off with a plain Command) under the
official LangChain instrumentation plus agent-otel's handoff layer: one trace, the handoff recorded,
the critical path through both agents. Fake chat models: no network."""

from __future__ import annotations

import time
from typing import Annotated

import pytest

from agent_otel.instrumentation import instrument, uninstrument

pytest.importorskip("langgraph")
pytest.importorskip("langchain.agents")

from langchain_core.tools import InjectedToolCallId  # noqa: E402  (module level: the tool's annotations are resolved here)
from langgraph.types import Command  # noqa: E402

TO, FROM = "agent_otel.handoff.to", "agent_otel.handoff.from"


@pytest.fixture
def layers():  # type: ignore[no-untyped-def]
    names = ["langchain", "langgraph_handoffs"]
    assert instrument(names) == names
    yield
    uninstrument(names)


def _model(*replies):  # type: ignore[no-untyped-def]
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    class Fake(GenericFakeChatModel):
        def bind_tools(self, tools, **kw):  # type: ignore[no-untyped-def]
            return self

    return Fake(messages=iter(replies))


def _supervisor_graph():  # type: ignore[no-untyped-def]
    from langchain.agents import create_agent
    from langchain_core.messages import AIMessage, ToolMessage
    from langchain_core.tools import tool
    from langgraph.graph import START, MessagesState, StateGraph

    @tool("transfer_to_billing", description="Hand the conversation to the billing agent")
    def transfer_to_billing(tool_call_id: Annotated[str, InjectedToolCallId]) -> Command:
        time.sleep(0.03)
        msg = ToolMessage("transferred to billing", tool_call_id=tool_call_id, name="transfer_to_billing")
        return Command(goto="billing", graph=Command.PARENT, update={"messages": [msg]})

    @tool("refund", description="Refund the last charge")
    def refund() -> str:
        time.sleep(0.06)
        return "refunded"

    triage = create_agent(_model(AIMessage("", tool_calls=[{"name": "transfer_to_billing", "args": {}, "id": "call_1"}])),
                          tools=[transfer_to_billing], name="triage")
    billing = create_agent(_model(AIMessage("", tool_calls=[{"name": "refund", "args": {}, "id": "call_2"}]), AIMessage("refund done")),
                           tools=[refund], name="billing")
    g = StateGraph(MessagesState)
    g.add_node("triage", triage, destinations=("billing",))
    g.add_node("billing", billing)
    g.add_edge(START, "triage")
    return g.compile(name="support")


def _critical_path(spans):  # type: ignore[no-untyped-def]
    from agent_otel.analyzer.critical_path import critical_path
    from agent_otel.analyzer.sources.base import TraceSpan
    from agent_otel.span_fields import span_fields

    rows = [TraceSpan(format(s.context.span_id, "016x"), format(s.parent.span_id, "016x") if s.parent else None, s.name,
                      *span_fields(s.name, dict(s.attributes), False, None)[:2], s.start_time, s.end_time) for s in spans]
    return [(span.name, ms) for span, ms in critical_path(rows)]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_handoff_tool_between_two_agents_is_one_trace_with_the_handoff_recorded(otel, layers, mode):  # type: ignore[no-untyped-def]
    graph = _supervisor_graph()
    question = {"messages": [{"role": "user", "content": "refund please"}]}
    out = graph.invoke(question) if mode == "sync" else await graph.ainvoke(question)
    assert out["messages"][-1].content == "refund done"
    spans = otel.spans()
    by_name = {s.name: s for s in spans}
    assert len({s.context.trace_id for s in spans}) == 1  # the receiving agent stays in the caller's trace
    tool = by_name["execute_tool transfer_to_billing"]
    assert tool.attributes[TO] == "billing" and tool.attributes["gen_ai.agent.name"] == "triage"
    assert tool.parent.span_id == by_name["invoke_agent triage"].context.span_id
    billing = by_name["invoke_agent billing"]
    assert billing.attributes[FROM] == "triage"
    assert FROM not in by_name["invoke_agent triage"].attributes
    path = dict(_critical_path(spans))  # the critical path crosses the handoff: time in both agents' tools
    assert path["execute_tool transfer_to_billing"] >= 25 and path["execute_tool refund"] >= 50, path


def test_a_node_returning_command_hands_off_to_the_agent_node(otel, layers):  # type: ignore[no-untyped-def]
    from langchain.agents import create_agent
    from langchain_core.messages import AIMessage
    from langgraph.graph import START, MessagesState, StateGraph

    def router(state: MessagesState) -> Command:  # a plain node handing off (LangGraph's Command(goto=...))
        return Command(goto="billing")

    g = StateGraph(MessagesState)
    g.add_node("router", router, destinations=("billing",))
    g.add_node("billing", create_agent(_model(AIMessage("done")), tools=[], name="billing"))
    g.add_edge(START, "router")
    g.compile(name="support").invoke({"messages": [{"role": "user", "content": "hi"}]})
    spans = otel.spans()
    billing = next(s for s in spans if s.name == "invoke_agent billing")
    assert billing.attributes[FROM] == "router"
    assert len({s.context.trace_id for s in spans}) == 1


def test_without_the_layer_nothing_is_marked_and_uninstrument_stops_it(otel):  # type: ignore[no-untyped-def]
    assert instrument(["langchain"]) == ["langchain"]
    try:
        _supervisor_graph().invoke({"messages": [{"role": "user", "content": "x"}]})
    finally:
        uninstrument(["langchain"])
    assert not any(TO in s.attributes or FROM in s.attributes for s in otel.spans())
