"""Frameworks through the official OpenTelemetry GenAI instrumentations, stacked over a provider's.

Every model call here goes through the real `openai` client to a local server speaking OpenAI's
wire format (fake_providers.py): it stands in for the hosted API, which cannot be reached from a
test. Each test counts the model spans: one per call, whatever is stacked (a framework over the
official OpenAI instrumentation, agent-otel decorators around them), with the server's usage.

LangChain and LlamaIndex reach OpenAI through adapter packages (langchain-openai,
llama-index-llms-openai) that pin openai < 3, which cannot be installed beside this project's
openai; the small adapters below call the same client the same way (`chat.completions.create`).
"""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict

import openai
import pytest
from opentelemetry.trace import StatusCode

import agent_otel
from agent_otel import semconv
from agent_otel.instrumentation import instrument, uninstrument

from .fake_providers import OPENAI_MODEL, FakeProvider, openai_answer

USAGE = (12, 3)  # what openai_answer reports for a plain chat completion
STREAM_USAGE = (20, 2)  # ... and for a stream (sent only when include_usage is asked for)


def model_spans(otel) -> list[Any]:
    return [s for s in otel.spans() if (s.attributes or {}).get(semconv.GEN_AI_OPERATION_NAME) == semconv.OP_CHAT]


def parent_names(otel) -> dict[str, str | None]:
    spans = otel.spans()
    by_id = {s.context.span_id: s for s in spans}
    return {s.name: (by_id[s.parent.span_id].name if s.parent and s.parent.span_id in by_id else None) for s in spans}


def usage(span) -> tuple[int, int]:
    return span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS], span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]


def token_metric(otel) -> dict[str, int]:
    """Tokens counted by gen_ai.client.token.usage over every instrumentation scope, by type."""
    out: dict[str, int] = {}
    for p in otel.metrics().get(semconv.METRIC_TOKEN_USAGE, []):
        kind = p.attributes[semconv.GEN_AI_TOKEN_TYPE]
        out[kind] = out.get(kind, 0) + int(p.sum)
    return out


def report_totals(otel, tmp_path) -> dict[str, Any]:
    """`agent-otel report`'s totals over the test's spans, written to a local store and read back."""
    from rich.console import Console

    from agent_otel.cli.run import make_report
    from agent_otel.analyzer.sources.local import LocalSource
    from agent_otel.localstore import open_exporters

    store = open_exporters(tmp_path / "store.db")
    store.spans.export(otel.spans())
    store.store.close()
    return make_report(LocalSource(tmp_path / "store.db"), since="1h", console=Console(quiet=True)).to_dict()["totals"]


def expected_cost(*usages: tuple[str, tuple[int, int]]) -> float:
    """What the calls cost by the report's price table (genai-prices), from the server's usage."""
    from agent_otel.analyzer import pricing

    table = pricing.load_prices(None)
    return sum(pricing.cost_usd(model, table, *u, provider="openai") for model, u in usages)


@pytest.fixture
def server():
    with FakeProvider(openai_answer) as s:
        yield s


def _stacked(framework: str):
    """The official instrumentation of `framework`, over the official OpenAI one (agent-otel's registry)."""
    names = ["openai", framework]
    assert instrument(names) == names
    yield
    uninstrument(names)


@pytest.fixture
def langchain():
    yield from _stacked("langchain")


@pytest.fixture
def agents():
    from agents import set_trace_processors

    set_trace_processors([])  # no upload to the hosted trace backend from a test
    yield from _stacked("openai_agents")


@pytest.fixture
def llama_index():
    yield from _stacked("llama_index")


@pytest.fixture
def smolagents():
    yield from _stacked("smolagents")


@pytest.fixture
def agno():
    yield from _stacked("agno")


# --- LangChain / LangGraph ------------------------------------------------------------------


def langchain_openai_chat(base_url: str, model: str = "gpt-4o"):
    """A LangChain chat model over the openai client, as langchain-openai's ChatOpenAI is."""
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

    def messages(msgs):
        return [{"role": "user", "content": m.content} for m in msgs]

    class OpenAIChat(BaseChatModel):
        model_name: str
        base_url: str

        @property
        def _llm_type(self) -> str:
            return "openai-chat"

        def _get_ls_params(self, stop=None, **kwargs):  # noqa: ANN001, ANN003 - LangChain's metadata, as ChatOpenAI sets it
            return {"ls_provider": "openai", "ls_model_name": self.model_name, "ls_model_type": "chat"}

        def _result(self, r) -> ChatResult:
            u = r.usage
            msg = AIMessage(content=r.choices[0].message.content,
                            usage_metadata={"input_tokens": u.prompt_tokens, "output_tokens": u.completion_tokens, "total_tokens": u.total_tokens})
            return ChatResult(generations=[ChatGeneration(message=msg, generation_info={"finish_reason": r.choices[0].finish_reason})],
                              llm_output={"model_name": r.model})

        def _generate(self, msgs, stop=None, run_manager=None, **kwargs):  # noqa: ANN001, ANN003
            client = openai.OpenAI(base_url=self.base_url, api_key="x", max_retries=0)
            return self._result(client.chat.completions.create(model=self.model_name, messages=messages(msgs)))

        async def _agenerate(self, msgs, stop=None, run_manager=None, **kwargs):  # noqa: ANN001, ANN003
            client = openai.AsyncOpenAI(base_url=self.base_url, api_key="x", max_retries=0)
            return self._result(await client.chat.completions.create(model=self.model_name, messages=messages(msgs)))

        def _stream(self, msgs, stop=None, run_manager=None, **kwargs):  # noqa: ANN001, ANN003
            client = openai.OpenAI(base_url=self.base_url, api_key="x", max_retries=0)
            for chunk in client.chat.completions.create(model=self.model_name, messages=messages(msgs), stream=True):
                text = chunk.choices[0].delta.content if chunk.choices else None
                if text:
                    yield ChatGenerationChunk(message=AIMessageChunk(content=text))

    return OpenAIChat(model_name=model, base_url=base_url)


def graph(model, fail_tool: bool = False):
    from langchain_core.tools import tool
    from langgraph.graph import END, StateGraph

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
    g.add_node("think", _both(model))
    g.add_node("act", lambda s: {"a": lookup.invoke({"q": s["a"]})})
    g.set_entry_point("think")
    g.add_edge("think", "act")
    g.add_edge("act", END)
    return g.compile()


def _both(model):
    """A graph node that calls the model sync or async, as the graph is run."""
    from langchain_core.runnables import RunnableLambda

    async def athink(s):
        return {"a": (await model.ainvoke(s["q"])).content}

    return RunnableLambda(lambda s: {"a": model.invoke(s["q"]).content}, afunc=athink)


def test_langgraph_over_openai_is_one_model_span_per_call_under_the_decorated_agent(otel, langchain, server):
    with agent_otel.agent("outer"):
        assert graph(langchain_openai_chat(server.url + "/v1")).invoke({"q": "hello"})["a"] == "HELLO!"
    (chat,) = model_spans(otel)
    assert chat.name == "chat gpt-4o" and chat.instrumentation_scope.name == "opentelemetry.instrumentation.genai.langchain"
    assert usage(chat) == USAGE
    # enriched by the OpenAI layer inside it (which recorded no span of its own)
    assert chat.attributes[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-1" and chat.attributes[semconv.SERVER_ADDRESS] == "127.0.0.1"
    tree = parent_names(otel)
    assert tree["chat gpt-4o"] == "invoke_workflow LangGraph" and tree["invoke_workflow LangGraph"] == "invoke_agent outer"
    assert tree["execute_tool lookup"] == "invoke_workflow LangGraph"
    assert len({s.context.trace_id for s in otel.spans()}) == 1
    assert token_metric(otel) == {"input": USAGE[0], "output": USAGE[1]}  # counted once


async def test_langgraph_async_over_openai_and_a_failing_tool(otel, langchain, server):
    with pytest.raises(ValueError, match="index offline"):
        await graph(langchain_openai_chat(server.url + "/v1"), fail_tool=True).ainvoke({"q": "x"})
    (chat,) = model_spans(otel)
    assert usage(chat) == USAGE
    tool = otel.span("execute_tool lookup")
    assert tool.status.status_code == StatusCode.ERROR and tool.attributes[semconv.ERROR_TYPE] == "ValueError"
    assert len({s.context.trace_id for s in otel.spans()}) == 1  # async steps stay in one trace
    assert token_metric(otel) == {"input": USAGE[0], "output": USAGE[1]}


def test_langchain_stream_over_openai_has_the_usage_the_caller_never_asked_for(otel, langchain, server):
    chunks = [c.content for c in langchain_openai_chat(server.url + "/v1").stream("hi")]
    assert "".join(chunks) == "Hello"  # the caller's chunks, no usage-only extra
    (chat,) = model_spans(otel)
    assert usage(chat) == STREAM_USAGE
    assert chat.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    assert token_metric(otel) == {"input": STREAM_USAGE[0], "output": STREAM_USAGE[1]}


def test_langchain_model_error_is_one_failed_model_span(otel, langchain, server):
    with pytest.raises(openai.RateLimitError):
        langchain_openai_chat(server.url + "/v1", model="fail").invoke("hi")
    (chat,) = model_spans(otel)
    assert chat.status.status_code == StatusCode.ERROR
    assert chat.attributes[semconv.ERROR_TYPE] == "openai.RateLimitError" or chat.attributes[semconv.ERROR_TYPE].endswith("RateLimitError")
    assert token_metric(otel) == {}


def test_llm_decorator_around_a_langchain_model_over_openai_is_one_span(otel, langchain, server, tmp_path):
    model = langchain_openai_chat(server.url + "/v1")

    @agent_otel.llm(model="gpt-4o", provider="openai")
    def ask(q: str) -> str:
        return model.invoke(q).content

    assert ask("hi") == "Hello!"
    (chat,) = model_spans(otel)
    assert chat.instrumentation_scope.name == "agent_otel"  # the outermost layer records; LangChain's and OpenAI's enrich it
    assert usage(chat) == USAGE and chat.attributes[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-1"
    assert token_metric(otel) == {"input": USAGE[0], "output": USAGE[1]}
    totals = report_totals(otel, tmp_path)
    assert (totals["input_tokens"], totals["output_tokens"]) == USAGE
    assert totals["cost_usd"] == pytest.approx(expected_cost((OPENAI_MODEL, USAGE)), abs=5e-7)


def test_report_over_langgraph_and_openai_shows_the_servers_tokens_and_cost(otel, langchain, server, tmp_path):
    model = langchain_openai_chat(server.url + "/v1")
    with agent_otel.agent("outer"):
        for q in ("a", "b", "c"):
            graph(model).invoke({"q": q})
    totals = report_totals(otel, tmp_path)
    assert (totals["input_tokens"], totals["output_tokens"]) == (3 * USAGE[0], 3 * USAGE[1])
    expected = 3 * expected_cost((OPENAI_MODEL, USAGE))
    assert expected > 0 and totals["cost_usd"] == pytest.approx(expected, abs=5e-7)  # the report rounds to 1e-6 USD


# --- OpenAI Agents SDK ----------------------------------------------------------------------


def agents_model(base_url: str, model: str = "gpt-4o"):
    from agents import OpenAIChatCompletionsModel

    return OpenAIChatCompletionsModel(model=model, openai_client=openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0))


def test_agents_sdk_over_openai_is_one_model_span_per_call_under_the_decorated_agent(otel, agents, server, tmp_path):
    from agents import Agent, Runner

    with agent_otel.agent("outer"):
        result = Runner.run_sync(Agent(name="helper", instructions="be brief", model=agents_model(server.url + "/v1")), "hi")
    assert result.final_output == "Hello!"
    (chat,) = model_spans(otel)  # the SDK's generation span is left to the provider instrumentation
    assert usage(chat) == USAGE
    tree = parent_names(otel)
    assert tree["chat gpt-4o"] == "invoke_agent helper"
    assert tree["invoke_agent helper"] == "invoke_workflow Agent workflow" and tree["invoke_workflow Agent workflow"] == "invoke_agent outer"
    assert token_metric(otel) == {"input": USAGE[0], "output": USAGE[1]}
    totals = report_totals(otel, tmp_path)
    assert (totals["input_tokens"], totals["output_tokens"]) == USAGE
    assert totals["cost_usd"] == pytest.approx(expected_cost((OPENAI_MODEL, USAGE)), abs=5e-7)


async def test_agents_sdk_async_stream_and_error(otel, agents, server):
    from agents import Agent, Runner

    agent = Agent(name="helper", instructions="be brief", model=agents_model(server.url + "/v1"))
    assert (await Runner.run(agent, "hi")).final_output == "Hello!"
    streamed = Runner.run_streamed(agent, "hi")
    async for _event in streamed.stream_events():
        pass
    assert streamed.final_output == "Hello"
    with pytest.raises(openai.RateLimitError):
        await Runner.run(Agent(name="helper", model=agents_model(server.url + "/v1", model="fail")), "hi")
    chats = model_spans(otel)
    assert len(chats) == 3
    ok, stream, failed = sorted(chats, key=lambda s: s.start_time)
    assert usage(ok) == USAGE and usage(stream) == STREAM_USAGE
    assert failed.status.status_code == StatusCode.ERROR and failed.attributes[semconv.ERROR_TYPE].endswith("RateLimitError")
    assert token_metric(otel) == {"input": USAGE[0] + STREAM_USAGE[0], "output": USAGE[1] + STREAM_USAGE[1]}


# --- LlamaIndex -----------------------------------------------------------------------------

REACT_USAGE = ((12, 3), (5, 2))  # the two calls of a ReAct run below: the action, then the answer


def react_answer(body: dict) -> tuple[int, str, bytes]:
    """OpenAI's wire format, scripted as a model driving a ReAct agent: look it up, then answer."""
    import json

    if body.get("model") == "fail" or body.get("stream"):
        return openai_answer(body)
    seen_tool = "Observation: X" in json.dumps(body)
    text = "Thought: I can answer without using any more tools.\nAnswer: FOUND" if seen_tool else \
        'Thought: I need to look it up.\nAction: lookup\nAction Input: {"q": "x"}'
    (i, o) = REACT_USAGE[seen_tool]
    return 200, "application/json", json.dumps({
        "id": f"chatcmpl-r{int(seen_tool)}", "object": "chat.completion", "created": 0, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o}}).encode()


def llama_index_openai_llm(base_url: str, model: str = "gpt-4o"):
    """A LlamaIndex LLM over the openai client, as llama-index-llms-openai's OpenAI is."""
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
    from llama_index.core.llms.callbacks import llm_completion_callback

    class OpenAILLM(CustomLLM):
        model_name: str
        base_url: str

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(model_name=self.model_name)

        def _client(self) -> openai.OpenAI:
            return openai.OpenAI(base_url=self.base_url, api_key="x", max_retries=0)

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
            r = self._client().chat.completions.create(model=self.model_name, messages=[{"role": "user", "content": prompt}])
            return CompletionResponse(text=r.choices[0].message.content, raw=r)

        @llm_completion_callback()
        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
            text = ""
            for chunk in self._client().chat.completions.create(model=self.model_name, messages=[{"role": "user", "content": prompt}], stream=True):
                delta = chunk.choices[0].delta.content if chunk.choices else None
                if delta:
                    text += delta
                    yield CompletionResponse(text=text, delta=delta)

    return OpenAILLM(model_name=model, base_url=base_url)


def react_agent(base_url: str, model: str = "gpt-4o", streaming: bool = False):
    from llama_index.core.agent.workflow import ReActAgent
    from llama_index.core.tools import FunctionTool

    def lookup(q: str) -> str:
        """Look something up."""
        return q.upper()

    return ReActAgent(name="helper", tools=[FunctionTool.from_defaults(lookup)], llm=llama_index_openai_llm(base_url, model), streaming=streaming)


async def test_llama_index_agent_over_openai_is_one_model_span_per_call_under_the_decorated_agent(otel, llama_index, tmp_path):
    with FakeProvider(react_answer) as s:
        with agent_otel.agent("outer"):
            assert str(await react_agent(s.url + "/v1").run("hi")) == "FOUND"
    chats = sorted(model_spans(otel), key=lambda x: x.start_time)  # LlamaIndex leaves model spans to the provider's
    assert [usage(c) for c in chats] == list(REACT_USAGE)
    tree = parent_names(otel)
    assert tree["execute_tool lookup"] == "invoke_agent helper" and tree["invoke_agent helper"] == "invoke_agent outer"
    assert {tree[c.name] for c in chats} == {"invoke_agent helper"}
    assert token_metric(otel) == {"input": 17, "output": 5}
    totals = report_totals(otel, tmp_path)
    assert (totals["input_tokens"], totals["output_tokens"]) == (17, 5)
    assert totals["cost_usd"] == pytest.approx(expected_cost(*(("gpt-4o", u) for u in REACT_USAGE)), abs=5e-7)


async def test_llama_index_stream_and_error(otel, llama_index, server):
    llm = llama_index_openai_llm(server.url + "/v1")
    assert [r.delta for r in llm.stream_complete("hi")] == ["Hel", "lo"]  # the caller's chunks, no usage-only extra
    assert str(llm.complete("hi")) == "Hello!"  # the sync path
    with pytest.raises(openai.RateLimitError):
        await react_agent(server.url + "/v1", model="fail").run("hi")
    stream, plain, failed = sorted(model_spans(otel), key=lambda x: x.start_time)
    assert usage(stream) == STREAM_USAGE and usage(plain) == USAGE
    assert failed.status.status_code == StatusCode.ERROR and failed.attributes[semconv.ERROR_TYPE].endswith("RateLimitError")
    assert otel.span("invoke_agent helper").status.status_code == StatusCode.ERROR


# --- Agno, smolagents -----------------------------------------------------------------------


def final_answer_call(body: dict) -> tuple[int, str, bytes]:
    """OpenAI's wire format, scripted as a model that ends a smolagents run with its final_answer tool."""
    import json

    if body.get("model") == "fail":  # a 400, not openai_answer's 429: smolagents retries rate limits for minutes
        return 400, "application/json", json.dumps({"error": {"message": "bad request", "type": "invalid_request_error"}}).encode()
    if body.get("stream"):
        return openai_answer({k: v for k, v in body.items() if k != "tools"})
    return 200, "application/json", json.dumps({
        "id": "chatcmpl-f", "object": "chat.completion", "created": 0, "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "final_answer", "arguments": "{\"answer\": \"Hello!\"}"}}]}}],
        "usage": {"prompt_tokens": USAGE[0], "completion_tokens": USAGE[1], "total_tokens": sum(USAGE)}}).encode()


def agno_agent(base_url: str, model: str = "gpt-4o"):
    from agno.agent import Agent
    from agno.models.openai import OpenAIChat

    return Agent(name="helper", model=OpenAIChat(id=model, base_url=base_url, api_key="x", max_retries=0))


async def test_agno_over_openai_sync_async_stream_and_error(otel, agno, server):
    agent = agno_agent(server.url + "/v1")
    with agent_otel.agent("outer"):
        assert agent.run("hi").content == "Hello!"
    assert (await agent.arun("hi")).content == "Hello!"
    assert "".join(e.content or "" for e in agent.run("hi", stream=True) if type(e).__name__ == "RunContentEvent") == "Hello"
    failed_run = agno_agent(server.url + "/v1", model="fail").run("hi")  # Agno reports a model error in its result
    assert "rate limited" in str(failed_run.content)
    chats = sorted(model_spans(otel), key=lambda s: s.start_time)  # Agno leaves model spans to the provider's
    assert [usage(c) for c in chats[:3]] == [USAGE, USAGE, STREAM_USAGE]
    assert chats[3].status.status_code == StatusCode.ERROR and chats[3].attributes[semconv.ERROR_TYPE].endswith("RateLimitError")
    assert len(chats) == 4
    tree = parent_names(otel)
    first = chats[0]
    by_id = {s.context.span_id: s for s in otel.spans()}
    assert by_id[first.parent.span_id].name == "invoke_agent helper" and tree["invoke_agent outer"] is None
    assert by_id[by_id[first.parent.span_id].parent.span_id].name == "invoke_agent outer"
    assert token_metric(otel) == {"input": 2 * USAGE[0] + STREAM_USAGE[0], "output": 2 * USAGE[1] + STREAM_USAGE[1]}


def test_smolagents_over_openai_run_stream_and_error(otel, smolagents):
    from smolagents import OpenAIServerModel, ToolCallingAgent
    from smolagents.utils import AgentGenerationError

    with FakeProvider(final_answer_call) as s:
        def agent(model: str = "gpt-4o"):
            m = OpenAIServerModel(model_id=model, api_base=s.url + "/v1", api_key="x", client_kwargs={"max_retries": 0})
            return ToolCallingAgent(tools=[], model=m, name="helper", max_steps=1, verbosity_level=0)

        with agent_otel.agent("outer"):
            assert agent().run("hi") == "Hello!"
        model = OpenAIServerModel(model_id="gpt-4o", api_base=s.url + "/v1", api_key="x")
        from smolagents.models import ChatMessage

        assert "".join(d.content or "" for d in model.generate_stream([ChatMessage(role="user", content="hi")])) == "Hello"
        with pytest.raises(AgentGenerationError):
            agent("fail").run("hi")
    ok, stream, failed = sorted(model_spans(otel), key=lambda x: x.start_time)  # API-backed models: the provider's spans
    assert usage(ok) == USAGE and usage(stream) == STREAM_USAGE
    assert failed.status.status_code == StatusCode.ERROR
    tree = parent_names(otel)
    assert tree["invoke_agent outer"] is None
    runs = [x for x in otel.spans() if x.name == "invoke_agent helper"]
    assert len(runs) == 2 and any(r.status.status_code == StatusCode.ERROR for r in runs)
    assert token_metric(otel) == {"input": USAGE[0] + STREAM_USAGE[0], "output": USAGE[1] + STREAM_USAGE[1]}


def test_opentelemetry_instrument_enables_the_official_framework_and_provider_instrumentations(server):
    """Zero-code: `opentelemetry-instrument` finds the official packages' entry points (agent-otel
    registers none for these libraries any more); LangGraph over OpenAI is still one model span.
    The app sets up its own SDK (no OpenTelemetry distro is installed); the instrumentations not
    under test are disabled only because each imports its library at start (a minute on a busy machine)."""
    import json
    import os
    import subprocess
    import sys
    import textwrap
    from importlib.metadata import entry_points
    from pathlib import Path

    app = textwrap.dedent(
        f"""
        import json, sys
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter, provider = InMemorySpanExporter(), TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        sys.path.insert(0, {str(Path(__file__).parent.parent)!r})
        from instrumentation.test_frameworks import graph, langchain_openai_chat
        assert graph(langchain_openai_chat({server.url + "/v1"!r})).invoke({{"q": "hi"}})["a"] == "HELLO!"
        print(json.dumps([[s.name, dict(s.attributes)] for s in exporter.get_finished_spans()], default=str))
        """
    )
    wanted = {"langchain", "openai", "agent_otel_openai"}
    others = sorted({ep.name for ep in entry_points(group="opentelemetry_instrumentor")} - wanted)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": ",".join(others),
           "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}
    proc = subprocess.run([str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable, "-c", app],
                          capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr
    spans = json.loads(proc.stdout.strip().splitlines()[-1])  # [name, attributes] per span
    chats = [attrs for _name, attrs in spans if attrs.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OP_CHAT]
    assert len(chats) == 1, [name for name, _ in spans]
    assert chats[0][semconv.GEN_AI_USAGE_INPUT_TOKENS] == USAGE[0] and chats[0][semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-1"
    assert {"invoke_workflow LangGraph", "execute_tool lookup"} <= {name for name, _ in spans}
