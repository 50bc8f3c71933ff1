"""The real OpenAI and Anthropic clients, pointed at local servers speaking their wire formats."""

from __future__ import annotations

import anthropic
import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

import agent_otel
from agent_otel import semconv
from agent_otel.instrumentation.anthropic import AnthropicInstrumentor
from agent_otel.instrumentation.openai import OpenAIInstrumentor

from .fake_providers import ANTHROPIC_MODEL, OPENAI_MODEL, FakeProvider, anthropic_answer, openai_answer

MESSAGES = [{"role": "user", "content": "hello, my key is sk-abcdefghijklmnopqrstuvwxyz"}]


@pytest.fixture
def oai():
    original = openai.resources.chat.completions.Completions.create
    inst = OpenAIInstrumentor()
    inst.instrument()
    with FakeProvider(openai_answer) as server:
        yield server
    inst.uninstrument()
    assert openai.resources.chat.completions.Completions.create is original


@pytest.fixture
def claude():
    inst = AnthropicInstrumentor()
    inst.instrument()
    with FakeProvider(anthropic_answer) as server:
        yield server
    inst.uninstrument()


def tokens(otel):
    return {(p.attributes[semconv.GEN_AI_PROVIDER_NAME], p.attributes[semconv.GEN_AI_TOKEN_TYPE]): p.sum for p in otel.metrics().get(semconv.METRIC_TOKEN_USAGE, [])}


def test_openai_sync_call_under_an_agent(otel, oai):
    client = openai.OpenAI(base_url=oai.url + "/v1", api_key="test", max_retries=0)

    @agent_otel.agent("assistant")
    def run():
        return client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=50)

    reply = run()
    assert reply.choices[0].message.content == "Hello!"
    span = otel.span("chat gpt-4o")
    assert span.kind == SpanKind.CLIENT
    assert span.parent.span_id == otel.span("invoke_agent assistant").context.span_id
    a = span.attributes
    assert a[semconv.GEN_AI_PROVIDER_NAME] == "openai" and a[semconv.GEN_AI_RESPONSE_MODEL] == OPENAI_MODEL
    assert (a[semconv.GEN_AI_USAGE_INPUT_TOKENS], a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (12, 3)
    assert list(a[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop"]
    assert a[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 50 and a[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert semconv.GEN_AI_INPUT_MESSAGES not in a  # content is opt-in
    assert tokens(otel) == {("openai", "input"): 12, ("openai", "output"): 3}


async def test_openai_async_stream_with_usage(otel, oai):
    client = openai.AsyncOpenAI(base_url=oai.url + "/v1", api_key="test", max_retries=0)
    stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Hello"
    a = otel.span("chat gpt-4o").attributes
    assert (a[semconv.GEN_AI_USAGE_INPUT_TOKENS], a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (20, 2)
    assert list(a[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ["length"] and a[semconv.GEN_AI_REQUEST_STREAM] is True


def test_openai_sync_stream_without_usage_still_ends_the_span(otel, oai):
    client = openai.OpenAI(base_url=oai.url + "/v1", api_key="test", max_retries=0)
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert len(chunks) == 3
    a = otel.span("chat gpt-4o").attributes
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in a and a[semconv.GEN_AI_RESPONSE_MODEL] == OPENAI_MODEL


def test_openai_error_passes_through(otel, oai):
    client = openai.OpenAI(base_url=oai.url + "/v1", api_key="test", max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="fail", messages=MESSAGES)
    span = otel.span("chat fail")
    assert span.status.status_code == StatusCode.ERROR and span.attributes[semconv.ERROR_TYPE] == "openai.RateLimitError"


def test_client_inside_llm_decorator_enriches_instead_of_duplicating(otel, oai):
    client = openai.OpenAI(base_url=oai.url + "/v1", api_key="test", max_retries=0)

    @agent_otel.llm(model="gpt-4o", provider="openai")
    def chat():
        return client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    chat()
    spans = otel.spans()
    assert [s.name for s in spans] == ["chat gpt-4o"]
    assert spans[0].attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 12


def test_content_capture_opt_in_redacts(otel, oai, monkeypatch):
    from agent_otel import content

    monkeypatch.setenv(semconv.ENV_CAPTURE_CONTENT, "true")
    content.set_policy(None)
    try:
        client = openai.OpenAI(base_url=oai.url + "/v1", api_key="test", max_retries=0)
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        a = otel.span("chat gpt-4o").attributes
        assert "hello" in a[semconv.GEN_AI_INPUT_MESSAGES] and "sk-abcdef" not in a[semconv.GEN_AI_INPUT_MESSAGES]
        assert "Hello!" in a[semconv.GEN_AI_OUTPUT_MESSAGES]
    finally:
        content.set_policy(None)


def test_anthropic_sync_and_stream(otel, claude):
    client = anthropic.Anthropic(base_url=claude.url, api_key="test", max_retries=0)
    msg = client.messages.create(model="claude-sonnet-4", max_tokens=100, messages=MESSAGES)
    assert msg.content[0].text == "Hi there"
    events = list(client.messages.create(model="claude-sonnet-4", max_tokens=100, messages=MESSAGES, stream=True))
    assert events[-1].type == "message_stop"
    first, second = [s for s in otel.spans() if s.name == "chat claude-sonnet-4"]
    assert (first.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS], first.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (25, 4)
    assert list(first.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ["end_turn"]
    assert (second.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS], second.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (30, 7)
    assert second.attributes[semconv.GEN_AI_RESPONSE_MODEL] == ANTHROPIC_MODEL
    assert tokens(otel) == {("anthropic", "input"): 55, ("anthropic", "output"): 11}


async def test_anthropic_async_error(otel, claude):
    client = anthropic.AsyncAnthropic(base_url=claude.url, api_key="test", max_retries=0)
    with pytest.raises(anthropic.APIStatusError):
        await client.messages.create(model="fail", max_tokens=10, messages=MESSAGES)
    assert otel.span("chat fail").status.status_code == StatusCode.ERROR
