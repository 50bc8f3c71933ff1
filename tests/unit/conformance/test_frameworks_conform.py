"""pytest-genai-semconv on the spans of every framework agent-otel instruments, each stacked over the
official OpenAI instrumentation (the frameworks' own runs are in instrumentation/test_frameworks.py):
every span is a complete GenAI span, and each run has one model span per model call."""

from __future__ import annotations

import asyncio

import pytest

from agent_otel import semconv
from agent_otel.instrumentation import instrument, uninstrument

from instrumentation import test_frameworks as fw
from instrumentation.fake_providers import FakeProvider, openai_answer

from .test_spans_conform import conform


def run_langgraph(url: str) -> None:
    fw.graph(fw.langchain_openai_chat(url)).invoke({"q": "hi"})


def run_agents_sdk(url: str) -> None:
    from agents import Agent, Runner

    Runner.run_sync(Agent(name="helper", instructions="be brief", model=fw.agents_model(url)), "hi")


def run_llama_index(url: str) -> None:
    async def main() -> None:
        await fw.react_agent(url).run("hi")  # the workflow starts its task in the running loop

    asyncio.run(main())


def run_agno(url: str) -> None:
    fw.agno_agent(url).run("hi")


def run_smolagents(url: str) -> None:
    from smolagents import OpenAIServerModel, ToolCallingAgent

    model = OpenAIServerModel(model_id="gpt-4o", api_base=url, api_key="x", client_kwargs={"max_retries": 0})
    ToolCallingAgent(tools=[], model=model, name="helper", max_steps=1, verbosity_level=0).run("hi")


@pytest.mark.parametrize(("name", "run", "answer", "model_calls"), [
    ("langchain", run_langgraph, openai_answer, 1),
    ("openai_agents", run_agents_sdk, openai_answer, 1),
    ("llama_index", run_llama_index, fw.react_answer, 2),
    ("agno", run_agno, openai_answer, 1),
    ("smolagents", run_smolagents, fw.final_answer_call, 1),
])
def test_framework_over_openai_spans_conform(providers, name, run, answer, model_calls):
    names = ["openai", name]
    if name == "openai_agents":
        from agents import set_trace_processors

        set_trace_processors([])  # no upload to the hosted trace backend (before the instrumentation adds its processor)
    assert instrument(names, **providers.kwargs()) == names
    try:
        with FakeProvider(answer) as server:
            run(server.url + "/v1")
    finally:
        uninstrument(names)
    spans = providers.spans()
    conform(spans)
    chats = [s for s in spans if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OP_CHAT]
    assert len(chats) == model_calls, [s.name for s in spans]
    assert any(s.attributes.get(semconv.GEN_AI_OPERATION_NAME) in (semconv.OP_INVOKE_AGENT, "invoke_workflow") for s in spans)
