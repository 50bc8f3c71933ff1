"""Conversations and handoffs taken from the frameworks: a LangGraph thread id, an Agents SDK session,
a LangGraph multi-agent handoff (Command(goto=...)) kept in one trace."""

from __future__ import annotations

import sys

from typing import TypedDict

import pytest

import agent_otel
from agent_otel.conversation import ConversationSpanProcessor

CONV = "gen_ai.conversation.id"


@pytest.fixture(scope="module", autouse=True)
def _conversation_processor(_otel_session):  # type: ignore[no-untyped-def]
    _otel_session.tracer_provider.add_span_processor(ConversationSpanProcessor())  # as configure() installs it


def _two_agent_graph():  # type: ignore[no-untyped-def]
    pytest.importorskip("langgraph")
    from langgraph.graph import END, StateGraph
    from langgraph.types import Command

    class State(TypedDict):
        q: str
        a: str

    @agent_otel.agent(name="triage")
    def triage(state: State) -> Command:
        with agent_otel.step("classify"):
            pass
        return Command(goto="billing", update={"a": "to billing"})  # LangGraph's multi-agent handoff

    @agent_otel.agent(name="billing")
    async def billing(state: State) -> dict:
        @agent_otel.tool(name="refund")
        def refund() -> str:
            return "refunded"

        return {"a": refund()}

    g = StateGraph(State)
    g.add_node("triage", triage)
    g.add_node("billing", billing)
    g.set_entry_point("triage")
    g.add_edge("billing", END)
    return g.compile()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="before Python 3.11 langchain-core cannot carry the run's config "
                    "(where the thread id is) into async nodes' context (asyncio.create_task has no context= there): "
                    "LangChain's documented limitation; pass a conversation scope instead")
async def test_langgraph_thread_id_is_the_conversation_and_the_handoff_stays_in_the_trace(otel):
    graph = _two_agent_graph()

    @agent_otel.workflow(name="support")
    async def support(q: str) -> dict:
        return await graph.ainvoke({"q": q, "a": ""}, config={"configurable": {"thread_id": "thread-7"}})

    assert (await support("refund please"))["a"] == "refunded"
    spans = {s.name: s for s in otel.spans()}
    for name in ("invoke_agent triage", "classify", "invoke_agent billing", "execute_tool refund"):
        assert spans[name].attributes.get(CONV) == "thread-7", name  # every span inside the graph's nodes
    assert len({s.context.trace_id for s in otel.spans()}) == 1  # the receiving agent is in the caller's trace
    assert spans["invoke_agent billing"].attributes["agent_otel.kind"] == "agent"


async def test_an_explicit_scope_wins_over_the_thread_id(otel):
    graph = _two_agent_graph()
    with agent_otel.conversation("chat-1"):
        await graph.ainvoke({"q": "x", "a": ""}, config={"configurable": {"thread_id": "thread-7"}})
    assert {s.attributes.get(CONV) for s in otel.spans()} == {"chat-1"}


async def test_agents_sdk_session_is_the_conversation(otel):
    agents = pytest.importorskip("agents")
    session = agents.SQLiteSession("session-42")

    @agent_otel.agent(name="helper")
    async def helper() -> None:
        with agent_otel.step("think"):
            pass

    async with agent_otel.conversation(session):
        await helper()
    assert {s.attributes.get(CONV) for s in otel.spans()} == {"session-42"}


def test_bad_ids_are_refused_with_the_reason(otel):
    with pytest.raises(ValueError, match="non-empty string"):
        agent_otel.conversation("")
    with pytest.raises(ValueError, match="non-empty agent name"):
        agent_otel.handoff("")
    with pytest.raises(ValueError, match="give a score, a label or both"):
        agent_otel.record_evaluation("relevance")
    with pytest.raises(ValueError, match="finite number"):
        agent_otel.record_evaluation("relevance", score="high")
    with pytest.raises(ValueError, match="must not contain"):
        agent_otel.record_evaluation("a.b", score=1)


def test_evaluation_event_follows_the_conventions(otel):
    with agent_otel.agent(name="helper") as span:
        agent_otel.record_evaluation("relevance", score=1, label="pass", explanation="cites the doc", response_id="resp-1")
    (event,) = [r for r in otel.logs() if r.event_name == "gen_ai.evaluation.result"]
    assert event.span_id == span.get_span_context().span_id and event.trace_id == span.get_span_context().trace_id
    assert dict(event.attributes) == {
        "gen_ai.agent.name": "helper", "gen_ai.operation.name": "invoke_agent", "gen_ai.evaluation.name": "relevance",
        "gen_ai.evaluation.score.value": 1.0, "gen_ai.evaluation.score.label": "pass",
        "gen_ai.evaluation.explanation": "cites the doc", "gen_ai.response.id": "resp-1",
    }


async def test_agents_sdk_handoff_is_one_trace_with_a_handoff_span(otel):
    """Runner.run of a triage agent that hands off to billing, recorded by the official Agents SDK
    instrumentation plus agent-otel's handoff processor, inside a conversation taken from the session."""
    agents = pytest.importorskip("agents")
    official = pytest.importorskip("opentelemetry.instrumentation.genai.openai_agents")
    from agents.items import ModelResponse
    from agents.models.interface import Model
    from agents.usage import Usage
    from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

    from agent_otel.instrumentation.openai_agents_handoffs import OpenAIAgentsHandoffInstrumentor

    class Scripted(Model):
        def __init__(self, output):  # type: ignore[no-untyped-def]
            self.output = output

        async def get_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return ModelResponse(output=[self.output], usage=Usage(), response_id=None)

        def stream_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    said = ResponseOutputMessage(id="m1", role="assistant", status="completed", type="message",
                                 content=[ResponseOutputText(annotations=[], text="refunded", type="output_text")])
    billing = agents.Agent(name="billing", model=Scripted(said))
    hand = ResponseFunctionToolCall(id="f1", call_id="c1", name="transfer_to_billing", arguments="{}", type="function_call", status="completed")
    triage = agents.Agent(name="triage", model=Scripted(hand), handoffs=[billing])

    agents.set_trace_processors([])  # nothing to the hosted trace backend
    inst = official.OpenAIAgentsInstrumentor()
    inst.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    handoffs = OpenAIAgentsHandoffInstrumentor()
    handoffs.instrument(tracer_provider=otel.tracer_provider)
    try:
        session = agents.SQLiteSession("session-9")
        with agent_otel.conversation(session):
            result = await agents.Runner.run(triage, "refund please", session=session)
    finally:
        handoffs.uninstrument()
        inst.uninstrument()
    assert result.final_output == "refunded"
    spans = {s.name: s for s in otel.spans()}
    hand_span = spans["execute_tool transfer_to_billing"]
    assert hand_span.attributes["agent_otel.handoff.to"] == "billing" and hand_span.attributes["gen_ai.agent.name"] == "triage"
    assert hand_span.parent.span_id == spans["invoke_agent triage"].context.span_id
    receiver = spans["invoke_agent billing"]
    assert receiver.attributes.get("agent_otel.handoff.from") == "triage"
    assert len({s.context.trace_id for s in otel.spans()}) == 1  # the receiving agent stays in the caller's trace
    assert {s.attributes.get(CONV) for s in otel.spans()} == {"session-9"}
