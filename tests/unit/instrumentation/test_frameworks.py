"""LangChain/LangGraph and the OpenAI Agents SDK, run for real (fake chat model / local wire-format server)."""

from __future__ import annotations

from typing import TypedDict

import pytest
from opentelemetry.trace import StatusCode

import agent_otel
from agent_otel import semconv

from .fake_providers import FakeProvider, openai_answer


def tree(otel):
    spans = otel.spans()
    by_id = {s.context.span_id: s for s in spans}
    return {s.name: (by_id[s.parent.span_id].name if s.parent and s.parent.span_id in by_id else None) for s in spans}


@pytest.fixture
def langchain():
    import langchain_core.callbacks

    from agent_otel.instrumentation.langchain import LangChainInstrumentor

    original = langchain_core.callbacks.BaseCallbackManager.__init__
    inst = LangChainInstrumentor()
    inst.instrument()
    yield
    inst.uninstrument()
    assert langchain_core.callbacks.BaseCallbackManager.__init__ is original


def graph(fail_tool=False):
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool
    from langgraph.graph import END, StateGraph

    model = GenericFakeChatModel(messages=iter([AIMessage(content="look it up", usage_metadata={"input_tokens": 11, "output_tokens": 5, "total_tokens": 16})]))

    @tool
    def lookup(q: str) -> str:
        """Look something up."""
        if fail_tool:
            raise ValueError("index offline")
        return q.upper()

    class State(TypedDict):
        q: str
        a: str

    g = StateGraph(State)
    g.add_node("think", lambda s: {"a": model.invoke(s["q"]).content})
    g.add_node("act", lambda s: {"a": lookup.invoke({"q": s["a"]})})
    g.set_entry_point("think")
    g.add_edge("think", "act")
    g.add_edge("act", END)
    return g.compile()


def test_langgraph_run_is_nested_spans_under_the_decorated_agent(otel, langchain):
    with agent_otel.agent("outer"):
        assert graph().invoke({"q": "hello"})["a"] == "LOOK IT UP"
    assert tree(otel) == {
        "invoke_agent outer": None,
        "invoke_agent LangGraph": "invoke_agent outer",
        "think": "invoke_agent LangGraph",
        "chat GenericFakeChatModel": "think",
        "act": "invoke_agent LangGraph",
        "execute_tool lookup": "act",
    }
    model = otel.span("chat GenericFakeChatModel")
    assert (model.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS], model.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (11, 5)
    tokens = {p.attributes[semconv.GEN_AI_TOKEN_TYPE]: p.sum for p in otel.metrics()[semconv.METRIC_TOKEN_USAGE]}
    assert tokens == {"input": 11, "output": 5}


async def test_langgraph_async_and_tool_error(otel, langchain):
    with pytest.raises(ValueError, match="index offline"):
        await graph(fail_tool=True).ainvoke({"q": "x"})
    tool = otel.span("execute_tool lookup")
    assert tool.status.status_code == StatusCode.ERROR and tool.attributes[semconv.ERROR_TYPE] == "ValueError"
    assert tree(otel)["execute_tool lookup"] == "act"  # async steps stay in one trace
    assert len({s.context.trace_id for s in otel.spans()}) == 1


def test_openai_agents_sdk_trace_becomes_spans(otel):
    import asyncio

    from agents import Agent, OpenAIChatCompletionsModel, Runner, set_trace_processors
    from openai import AsyncOpenAI

    from agent_otel.instrumentation.openai_agents import OpenAIAgentsInstrumentor, _processor

    set_trace_processors([])  # no upload to the hosted trace backend from a test
    inst = OpenAIAgentsInstrumentor()
    inst.instrument()
    try:
        with FakeProvider(openai_answer) as server:
            model = OpenAIChatCompletionsModel(model="gpt-4o", openai_client=AsyncOpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0))
            result = asyncio.run(Runner.run(Agent(name="helper", instructions="be brief", model=model), "hi"))
    finally:
        inst.uninstrument()
    assert result.final_output == "Hello!"
    t = tree(otel)
    assert t["invoke_agent helper"] is not None and t["chat gpt-4o"] is not None
    assert t["invoke_workflow Agent workflow"] is None
    chat = otel.span("chat gpt-4o")
    assert (chat.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS], chat.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (12, 3)
    from agents.tracing import get_trace_provider

    assert _processor not in get_trace_provider()._multi_processor._processors


def test_a_runnable_invoked_without_its_config_stays_under_its_step(otel, langchain):
    """What LangChain does on Python < 3.11 in async graphs, made to happen on every version: the
    step calls a tool with the run config lost, so the tool run arrives without a parent_run_id."""
    from langchain_core.runnables.config import var_child_runnable_config
    from langchain_core.tools import tool
    from langgraph.graph import END, StateGraph

    @tool
    def lookup(q: str) -> str:
        """Look something up."""
        return q.upper()

    class State(TypedDict):
        q: str

    def act(s):
        var_child_runnable_config.set(None)  # this node's context only: LangChain no longer knows the parent run
        return {"q": lookup.invoke({"q": s["q"]})}

    g = StateGraph(State)
    g.add_node("act", act)
    g.set_entry_point("act")
    g.add_edge("act", END)
    with agent_otel.agent("outer"):
        assert g.compile().invoke({"q": "x"}) == {"q": "X"}
    assert tree(otel) == {"invoke_agent outer": None, "invoke_agent LangGraph": "invoke_agent outer", "act": "invoke_agent LangGraph", "execute_tool lookup": "act"}
