"""pytest-genai-semconv on every span kind agent-otel emits: each decorator and each instrumentor,
normal, stream and error paths, in both conventions modes.

Rule checked on every finished span: a span carrying any gen_ai.* attribute is a complete GenAI
span (assert_genai_span_compliant: operation name, required attributes, types, well-known
values, span kind); a span without gen_ai.operation.name carries no gen_ai.* at all.
"""

from __future__ import annotations

from opentelemetry.semconv.schemas import Schemas

import asyncio

import anthropic
import openai
import pytest
from pytest_genai_semconv import (
    assert_chat_span,
    assert_execute_tool_span,
    assert_genai_span_compliant,
    assert_invoke_agent_span,
    assert_plan_span,
)

import agent_otel
from agent_otel import semconv

from instrumentation.fake_providers import FakeProvider, anthropic_answer, openai_answer


def conform(spans) -> None:  # noqa: ANN001
    assert spans, "no spans"
    for span in spans:
        attrs = span.attributes or {}
        genai = [k for k in attrs if k.startswith("gen_ai.")]
        if semconv.GEN_AI_OPERATION_NAME in attrs:
            assert_genai_span_compliant(span)
        else:
            assert not genai, f"{span.name}: partial gen_ai set {genai} without gen_ai.operation.name"


# --- decorators (global providers, swapped per test like pytest-genai-semconv does) ----------


def test_decorators_normal_paths(own, mode):
    @agent_otel.workflow("triage")
    def flow():
        return run("question")

    @agent_otel.agent("planner", description="plans")
    def run(q):
        plan(q)
        retrieve(q)
        lookup(q)
        return chat(q) + unknown_model(q)

    @agent_otel.step("make-plan", operation="plan")
    def plan(q):
        return q

    @agent_otel.step("kb", operation="retrieval", data_source_id="kb-1")
    def retrieve(q):
        with agent_otel.step("rank"):  # a plain step
            return [q]

    @agent_otel.tool("lookup", call_id="call_9")
    def lookup(q):
        return q.upper()

    @agent_otel.llm(model="gpt-4o")  # no provider: inferred from the model
    def chat(q):
        agent_otel.record_usage(3, 2)
        return "a"

    @agent_otel.llm(model="house-model", provider="openai")
    def unknown_model(q):
        return "b"

    @agent_otel.inference(model="intent.onnx", system="onnxruntime")
    def classify(batch):
        return batch

    assert flow() == "ab"
    classify([1, 2])
    spans = own.spans()
    conform(spans)
    assert_invoke_agent_span(own.span("invoke_agent planner"), agent_name="planner")
    assert_plan_span(own.span("plan make-plan"))
    assert_chat_span(own.span("chat gpt-4o"), request_model="gpt-4o")
    tool = own.span("execute_tool lookup")
    assert_execute_tool_span(tool, tool_name="lookup")
    assert tool.attributes[semconv.GEN_AI_AGENT_NAME] == "planner"
    assert tool.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_9"
    assert own.span("invoke_workflow triage").attributes[semconv.GEN_AI_WORKFLOW_NAME] == "triage"
    assert own.span("retrieval kb-1").attributes[semconv.GEN_AI_DATA_SOURCE_ID] == "kb-1"
    assert own.span("chat gpt-4o").attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert not [k for k in own.span("rank").attributes if k.startswith("gen_ai.")]
    assert not [k for k in own.span("inference intent.onnx").attributes if k.startswith("gen_ai.")]
    for span in spans:
        assert span.instrumentation_scope.name == "agent_otel"
        assert span.instrumentation_scope.version == agent_otel.__version__
        assert span.instrumentation_scope.schema_url == semconv.schema_url()
    assert semconv.schema_url() == (semconv.SCHEMA_URL_LATEST if mode == "latest" else semconv.SCHEMA_URL_DEFAULT)


def test_decorators_error_and_stream_paths(own, mode):
    @agent_otel.agent("a")
    def run():
        with pytest.raises(KeyError):
            broken_tool()
        return list(stream())

    @agent_otel.tool("broken")
    def broken_tool():
        raise KeyError("x")

    @agent_otel.llm(model="claude-sonnet-4")
    def stream():
        yield "a"
        yield "b"

    @agent_otel.llm(model="gpt-4o", provider="openai")
    async def failing():
        raise openai.APIConnectionError(request=None)  # type: ignore[arg-type]

    assert run() == ["a", "b"]
    with pytest.raises(openai.APIConnectionError):
        asyncio.run(failing())
    conform(own.spans())
    assert own.span("execute_tool broken").attributes[semconv.ERROR_TYPE] == "KeyError"
    assert own.span("chat gpt-4o").attributes[semconv.ERROR_TYPE] == "openai.APIConnectionError"
    assert own.span("chat claude-sonnet-4").attributes[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"


def test_llm_without_provider_takes_it_from_the_client_inside(own, providers):
    from agent_otel.instrumentation.openai import OpenAIInstrumentor

    inst = OpenAIInstrumentor()
    inst.instrument()  # global providers: the test's own
    try:
        with FakeProvider(openai_answer) as server:
            client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)

            @agent_otel.llm(model="my-router")
            def ask():
                return client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])

            ask()
    finally:
        inst.uninstrument()
    (span,) = own.spans()
    conform([span])
    assert span.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert span.attributes[semconv.SERVER_ADDRESS] == "127.0.0.1" and span.attributes[semconv.SERVER_PORT] > 0


# --- instrumentors (given the test's providers explicitly) ------------------------------------


@pytest.fixture
def oai(providers):
    from agent_otel.instrumentation.openai import OpenAIInstrumentor

    inst = OpenAIInstrumentor()
    inst.instrument(**providers.kwargs())
    with FakeProvider(openai_answer) as server:
        yield openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0), openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    inst.uninstrument()


@pytest.fixture
def claude(providers):
    from agent_otel.instrumentation.anthropic import AnthropicInstrumentor

    inst = AnthropicInstrumentor()
    inst.instrument(**providers.kwargs())
    with FakeProvider(anthropic_answer) as server:
        yield anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0), anthropic.AsyncAnthropic(base_url=server.url, api_key="k", max_retries=0)
    inst.uninstrument()


def test_openai_chat_stream_error_embeddings(mode, providers, oai):
    client, aclient = oai
    msgs = [{"role": "user", "content": "hi"}]
    client.chat.completions.create(model="gpt-4o", messages=msgs, temperature=0.2, top_p=0.9, seed=7, stop=["x"], n=2,
                                   frequency_penalty=0.1, presence_penalty=0.2, response_format={"type": "json_object"})
    list(client.chat.completions.create(model="gpt-4o", messages=msgs, stream=True, stream_options={"include_usage": True}))

    async def astream():
        return [c async for c in await aclient.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True)]

    asyncio.run(astream())
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="fail", messages=msgs)
    client.embeddings.create(model="text-embedding-3-small", input="hello")
    spans = providers.spans()
    conform(spans)
    names = sorted(s.name for s in spans)
    assert names == ["chat fail", "chat gpt-4o", "chat gpt-4o", "chat gpt-4o-mini", "embeddings text-embedding-3-small"]
    plain = next(s for s in spans if s.name == "chat gpt-4o" and not s.attributes.get(semconv.GEN_AI_REQUEST_STREAM))
    a = plain.attributes
    assert (a[semconv.GEN_AI_REQUEST_TOP_P], a[semconv.GEN_AI_REQUEST_SEED], list(a[semconv.GEN_AI_REQUEST_STOP_SEQUENCES])) == (0.9, 7, ["x"])
    assert (a[semconv.GEN_AI_REQUEST_CHOICE_COUNT], a[semconv.GEN_AI_OUTPUT_TYPE]) == (2, "json")
    assert (a[semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY], a[semconv.GEN_AI_REQUEST_PRESENCE_PENALTY]) == (0.1, 0.2)
    streamed = next(s for s in spans if s.name == "chat gpt-4o" and s.attributes.get(semconv.GEN_AI_REQUEST_STREAM))
    assert streamed.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert next(s for s in spans if s.name == "chat fail").attributes[semconv.ERROR_TYPE] == "openai.RateLimitError"
    emb = next(s for s in spans if s.name.startswith("embeddings"))
    assert emb.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 4
    for span in spans:  # the official instrumentation (util-genai 1.3b0) pins the conventions version it implements
        assert span.instrumentation_scope.name == "opentelemetry.instrumentation.genai.openai"
        assert span.instrumentation_scope.schema_url == Schemas.V1_37_0.value


def test_openai_tool_calls_cache_and_openai_attributes(providers, oai):
    client, _ = oai
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "weather?"}], tools=tools)
    (span,) = providers.spans()
    conform([span])
    a = span.attributes
    assert a[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 10
    assert a[semconv.OPENAI_RESPONSE_SERVICE_TIER] == "default" and a[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_1"
    assert list(a[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ["tool_calls"]


def test_anthropic_chat_stream_error(mode, providers, claude):
    client, aclient = claude
    msgs = [{"role": "user", "content": "hi"}]
    client.messages.create(model="claude-sonnet-4", max_tokens=10, messages=msgs)
    with client.messages.create(model="claude-sonnet-4", max_tokens=10, messages=msgs, stream=True) as stream:
        list(stream)

    async def acall():
        return await aclient.messages.create(model="claude-haiku", max_tokens=10, messages=msgs)

    asyncio.run(acall())
    with pytest.raises(anthropic.APIStatusError):
        client.messages.create(model="fail", max_tokens=10, messages=msgs)
    spans = providers.spans()
    conform(spans)
    assert len(spans) == 4
    failed = next(s for s in spans if s.name == "chat fail")
    assert failed.attributes[semconv.ERROR_TYPE].startswith("anthropic.")


def test_langchain_spans_conform(providers):
    import langchain_core.callbacks
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool

    from agent_otel.instrumentation import instrumentor

    class FakeOpenAIChat(GenericFakeChatModel):
        def _get_ls_params(self, stop=None, **kwargs):  # noqa: ANN001, ANN003
            return {"ls_provider": "openai", "ls_model_name": "gpt-4o", "ls_model_type": "chat"}

    @tool
    def lookup(q: str) -> str:
        """Look something up."""
        if q == "boom":
            raise ValueError("offline")
        return q

    inst = instrumentor("langchain")  # the official opentelemetry-instrumentation-genai-langchain
    inst.instrument(**providers.kwargs())
    try:
        model = FakeOpenAIChat(messages=iter([AIMessage(content="x", usage_metadata={"input_tokens": 2, "output_tokens": 1, "total_tokens": 3})]))
        model.invoke("hi")
        lookup.invoke({"q": "a"})
        with pytest.raises(ValueError):
            lookup.invoke({"q": "boom"})
    finally:
        inst.uninstrument()
    assert langchain_core.callbacks.BaseCallbackManager.__init__.__name__ == "__init__"
    spans = providers.spans()
    conform(spans)
    assert any(s.name == "chat gpt-4o" for s in spans)


def test_openai_agents_spans_conform(providers):
    from agents import Agent, OpenAIChatCompletionsModel, Runner, set_trace_processors
    from openai import AsyncOpenAI

    from agent_otel.instrumentation import instrumentor

    set_trace_processors([])
    inst = instrumentor("openai_agents")  # the official opentelemetry-instrumentation-genai-openai-agents
    inst.instrument(**providers.kwargs())
    try:
        with FakeProvider(openai_answer) as server:
            model = OpenAIChatCompletionsModel(model="gpt-4o", openai_client=AsyncOpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0))
            asyncio.run(Runner.run(Agent(name="helper", instructions="be brief", model=model), "hi"))
    finally:
        inst.uninstrument()
    spans = providers.spans()
    conform(spans)
    assert providers.span("invoke_workflow Agent workflow").attributes[semconv.GEN_AI_WORKFLOW_NAME] == "Agent workflow"


def test_onnxruntime_honours_given_providers(providers, tmp_path):
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from agent_otel.instrumentation.onnxruntime import OnnxRuntimeInstrumentor

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "relu.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 9  # what every onnxruntime we support loads (onnx itself may write a newer IR)
    onnx.save(model, path)
    inst = OnnxRuntimeInstrumentor()
    inst.instrument(**providers.kwargs())
    try:
        ort.InferenceSession(str(path)).run(None, {"x": np.ones((3, 2), dtype=np.float32)})
    finally:
        inst.uninstrument()
    (span,) = providers.spans()
    conform([span])
    assert span.name == "inference relu.onnx" and span.instrumentation_scope.version == agent_otel.__version__
    (m, _scope) = providers.metrics()[semconv.METRIC_DURATION]  # no flush call: collected at once
    assert [p.count for p in m.data.data_points] == [1]


def test_in_memory_metric_reader_sees_decorator_metrics_without_a_flush(own):
    @agent_otel.tool("probe")
    def probe():
        return 1

    probe()
    probe()
    got = own.metrics()  # the reader's own collection; agent_otel.force_flush() is never called
    (tool_metric, _scope) = got[semconv.METRIC_EXECUTE_TOOL_DURATION]
    assert [p.count for p in tool_metric.data.data_points] == [2]
    (own_metric, _scope) = got[semconv.METRIC_DURATION]
    assert sum(p.count for p in own_metric.data.data_points) == 2
