"""Every decorator form produces the span a user expects, and never changes the function's behaviour."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import agent_otel
from agent_otel import semconv


def parent_of(span):
    return span.parent.span_id if span.parent else None


def test_bare_named_and_keyword_forms(otel):
    @agent_otel.step
    def bare(x):
        return x * 2

    @agent_otel.step("retrieve")
    def named(q):
        return q.upper()

    @agent_otel.tool(name="web_search", description="searches", attributes={"team": "a"})
    def search(q):
        return [q]

    assert bare(2) == 4 and named("q") == "Q" and search("x") == ["x"]
    assert bare.__name__ == "bare" and search.__wrapped__.__name__ == "search"

    assert otel.span("bare").attributes[semconv.AGENT_OTEL_KIND] == "step"
    assert otel.span("retrieve").attributes[semconv.AGENT_OTEL_STEP_NAME] == "retrieve"
    tool = otel.span("execute_tool web_search")
    assert tool.attributes[semconv.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert tool.attributes[semconv.GEN_AI_TOOL_NAME] == "web_search"
    assert tool.attributes[semconv.GEN_AI_TOOL_DESCRIPTION] == "searches"
    assert tool.attributes["team"] == "a"


def test_genai_span_names_and_kinds(otel):
    @agent_otel.agent(name="planner")
    def run():
        return chat()

    @agent_otel.llm(model="gpt-4o", provider="openai")
    def chat():
        agent_otel.record_usage(input_tokens=12, output_tokens=5)
        return "ok"

    @agent_otel.inference(model="resnet50", system="onnxruntime")
    def predict(batch):
        return len(batch)

    run()
    predict([1, 2, 3])
    agent = otel.span("invoke_agent planner")
    model = otel.span("chat gpt-4o")
    infer = otel.span("inference resnet50")
    assert agent.kind == SpanKind.INTERNAL and model.kind == SpanKind.CLIENT
    assert agent.attributes[semconv.GEN_AI_AGENT_NAME] == "planner"
    assert model.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert model.attributes[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o"
    assert model.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert model.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert parent_of(model) == agent.context.span_id
    # local inference is not a GenAI operation: agent-otel's own attributes, no partial gen_ai.* set
    assert infer.attributes[semconv.AGENT_OTEL_INFERENCE_PROVIDER] == "onnxruntime"
    assert not [k for k in infer.attributes if k.startswith("gen_ai.")]
    assert infer.attributes[semconv.AGENT_OTEL_BATCH_SIZE] == 3


def test_context_manager_yields_the_span_and_nests(otel):
    with agent_otel.agent("planner"):
        with agent_otel.step("plan") as span:
            span.set_attribute("plan.size", 3)
    plan = otel.span("plan")
    assert plan.attributes["plan.size"] == 3
    assert parent_of(plan) == otel.span("invoke_agent planner").context.span_id


async def test_async_context_manager_and_coroutines(otel):
    @agent_otel.tool("lookup")
    async def lookup(x):
        await asyncio.sleep(0)
        return x

    async with agent_otel.step("outer"):
        assert await lookup(5) == 5
    assert parent_of(otel.span("execute_tool lookup")) == otel.span("outer").context.span_id


def test_user_exception_passes_through_unchanged(otel):
    class Boom(Exception):
        pass

    err = Boom("bad")

    @agent_otel.tool("fails")
    def fails():
        raise err

    with pytest.raises(Boom) as caught:
        fails()
    assert caught.value is err
    span = otel.span("execute_tool fails")
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "test_decorators.test_user_exception_passes_through_unchanged.<locals>.Boom"  # qualified as util-genai writes it
    assert [e.name for e in span.events] == ["exception"]


def test_generator_span_lasts_until_exhausted_and_children_nest(otel):
    @agent_otel.step("child")
    def child(i):
        return i

    @agent_otel.step("stream")
    def stream(n):
        for i in range(n):
            yield child(i)
        return "done"

    gen = stream(3)
    assert next(gen) == 0
    assert [s.name for s in otel.spans()] == ["child"]  # the stream span is still open
    assert list(gen) == [1, 2]
    stream_span = otel.span("stream")
    assert all(parent_of(s) == stream_span.context.span_id for s in otel.spans() if s.name == "child")


def test_generator_closed_early_ends_span_without_error(otel):
    @agent_otel.step("gen")
    def gen():
        yield 1
        yield 2

    g = gen()
    next(g)
    g.close()
    assert otel.span("gen").status.status_code == StatusCode.UNSET


def test_generator_send_and_throw_reach_user_code(otel):
    @agent_otel.step("echo")
    def echo():
        received = []
        try:
            while True:
                received.append((yield len(received)))
        except KeyError:
            yield received

    g = echo()
    next(g)
    g.send("a")
    g.send("b")
    assert g.throw(KeyError("stop")) == ["a", "b"]


async def test_async_generator_consumed_from_other_tasks_keeps_parentage(otel, caplog):
    @agent_otel.step("chunk")
    async def chunk(i):
        return i

    @agent_otel.llm(model="m", provider="p")
    async def tokens():
        for i in range(3):
            yield await chunk(i)

    agen = tokens()
    first = await asyncio.create_task(agen.__anext__())
    rest = [x async for x in agen]
    assert [first, *rest] == [0, 1, 2]
    llm_span = otel.span("chat m")
    chunks = [s for s in otel.spans() if s.name == "chunk"]
    assert len(chunks) == 3 and all(parent_of(s) == llm_span.context.span_id for s in chunks)
    assert "Failed to detach context" not in caplog.text


async def test_async_generator_aclose_early(otel):
    @agent_otel.step("agen")
    async def agen():
        yield 1
        yield 2

    g = agen()
    assert await g.__anext__() == 1
    await g.aclose()
    assert otel.span("agen").end_time is not None


async def test_gather_and_cancellation(otel):
    @agent_otel.tool("slow")
    async def slow():
        await asyncio.sleep(10)

    @agent_otel.tool("quick")
    async def quick(i):
        return i

    @agent_otel.agent("fanout")
    async def fanout():
        return await asyncio.gather(*(quick(i) for i in range(3)))

    assert await fanout() == [0, 1, 2]
    root = otel.span("invoke_agent fanout")
    quick_spans = [s for s in otel.spans() if s.name == "execute_tool quick"]
    assert len(quick_spans) == 3 and all(parent_of(s) == root.context.span_id for s in quick_spans)

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancelled = otel.span("execute_tool slow")
    assert cancelled.end_time is not None
    assert cancelled.attributes[semconv.ERROR_TYPE] == "asyncio.exceptions.CancelledError"


def test_threads_keep_parent_with_wrap_context(otel):
    @agent_otel.tool("work")
    def work(i):
        return i

    with agent_otel.agent("threads"), ThreadPoolExecutor(2) as pool:
        assert list(pool.map(agent_otel.wrap_context(work), range(4))) == [0, 1, 2, 3]
    root = otel.span("invoke_agent threads")
    assert all(parent_of(s) == root.context.span_id for s in otel.spans() if s.name == "execute_tool work")


def test_concurrent_threads_get_separate_traces(otel):
    @agent_otel.agent("per_thread")
    def run():
        with agent_otel.step("inner"):
            pass

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    roots = [s for s in otel.spans() if s.name == "invoke_agent per_thread"]
    inners = [s for s in otel.spans() if s.name == "inner"]
    assert len({r.context.trace_id for r in roots}) == 4
    assert {i.context.trace_id for i in inners} == {r.context.trace_id for r in roots}


def test_methods_classmethods_staticmethods(otel):
    class Agent:
        factor = 3

        @agent_otel.step("method")
        def method(self, x):
            return x * self.factor

        @agent_otel.step("cm")
        @classmethod
        def cm(cls, x):
            return x + cls.factor

        @classmethod
        @agent_otel.step("cm_inner")
        def cm_inner(cls, x):
            return x - cls.factor

        @agent_otel.step("sm")
        @staticmethod
        def sm(x):
            return -x

    a = Agent()
    assert (a.method(2), Agent.cm(1), Agent.cm_inner(4), Agent.sm(5)) == (6, 4, 1, -5)
    assert {s.name for s in otel.spans()} == {"method", "cm", "cm_inner", "sm"}


def test_logs_inside_a_call_carry_trace_ids(otel):
    log = logging.getLogger("test.agent")
    log.setLevel(logging.INFO)

    @agent_otel.step("logging_step")
    def work():
        log.warning("looking up %s", "x")

    work()
    span = otel.span("logging_step")
    records = [r for r in otel.logs() if r.body == "looking up x"]
    assert records, "log record did not reach OpenTelemetry logs"
    assert records[0].trace_id == span.context.trace_id
    assert records[0].span_id == span.context.span_id


def test_internal_failure_never_reaches_user_code(otel, monkeypatch):
    from agent_otel import _guard, decorators

    _guard.reset_for_tests()

    def broken(*a, **k):
        raise RuntimeError("agent-otel bug")

    from agent_otel import recorder

    monkeypatch.setattr(recorder.Recorder, "begin", broken)

    @agent_otel.step("resilient")
    def work(x):
        return x + 1

    assert work(1) == 2
    assert work(2) == 3
    assert _guard.internal_error_counts() == {"decorators.start": 2}
