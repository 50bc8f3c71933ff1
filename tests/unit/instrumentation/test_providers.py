"""Every provider library through its official OpenTelemetry GenAI instrumentation, enabled by agent-otel.

The hosted APIs (OpenAI, Anthropic, AWS Bedrock, Google Gemini) cannot be reached from tests: each
real client library is pointed at a local server speaking that provider's wire format
(fake_providers.py), which stands in for the hosted API. Per provider: sync, async, streaming and
an error, then `@agent_otel.llm` around the call (one span, carrying usage), then the report over
the exported spans (tokens and cost equal to the fake server's usage).
"""

from __future__ import annotations

import importlib.util

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import boto3
import openai
import pytest
from botocore.exceptions import ClientError
from google import genai
from google.genai import errors as genai_errors
from opentelemetry.trace import SpanKind, StatusCode

import agent_otel
from agent_otel import semconv
from agent_otel.instrumentation import instrument, uninstrument

from .fake_providers import (
    ANTHROPIC_MODEL,
    GEMINI_MODEL,
    OPENAI_MODEL,
    FakeProvider,
    anthropic_answer,
    bedrock_answer,
    gemini_answer,
    openai_answer,
)

MESSAGES = [{"role": "user", "content": "hello"}]


@dataclass
class Provider:
    """How to make one call of a provider's client: `call(server, model, stream)` and `acall(...)`."""

    name: str  # agent-otel's instrument() name
    answer: Callable[..., Any]
    provider: str  # gen_ai.provider.name the official instrumentation writes
    operation: str
    model: str
    call: Callable[..., Any]
    acall: Callable[..., Any]
    sync_usage: tuple[int, int]  # what the fake server reports
    stream_usage: tuple[int, int]
    error: type[BaseException]
    error_type: str


def _openai_call(server, model, stream=False):
    c = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    r = c.chat.completions.create(model=model, messages=MESSAGES, stream=stream, stream_options={"include_usage": True} if stream else openai.omit)
    return [ch.choices[0].delta.content or "" for ch in r if ch.choices] if stream else r.choices[0].message.content


async def _openai_acall(server, model, stream=False):
    c = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
    r = await c.chat.completions.create(model=model, messages=MESSAGES, stream=stream, stream_options={"include_usage": True} if stream else openai.omit)
    return [ch.choices[0].delta.content or "" async for ch in r if ch.choices] if stream else r.choices[0].message.content


def _anthropic_call(server, model, stream=False):
    c = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
    r = c.messages.create(model=model, max_tokens=50, messages=MESSAGES, stream=stream)
    return [e.type for e in r] if stream else r.content[0].text


async def _anthropic_acall(server, model, stream=False):
    c = anthropic.AsyncAnthropic(base_url=server.url, api_key="k", max_retries=0)
    r = await c.messages.create(model=model, max_tokens=50, messages=MESSAGES, stream=stream)
    return [e.type async for e in r] if stream else r.content[0].text


def _bedrock(server):
    return boto3.client("bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id="k", aws_secret_access_key="k", config=boto3.session.Config(retries={"max_attempts": 1}))


def _bedrock_call(server, model, stream=False):
    msgs = [{"role": "user", "content": [{"text": "hello"}]}]
    if stream:
        return [next(iter(e)) for e in _bedrock(server).converse_stream(modelId=model, messages=msgs)["stream"]]
    return _bedrock(server).converse(modelId=model, messages=msgs)["output"]["message"]["content"][0]["text"]


async def _bedrock_acall(server, model, stream=False):  # boto3 has no async client: run it in a thread as apps do
    import asyncio

    return await asyncio.to_thread(_bedrock_call, server, model, stream)


def _gemini(server):
    return genai.Client(api_key="k", http_options=genai.types.HttpOptions(base_url=server.url))


def _gemini_call(server, model, stream=False):
    client = _gemini(server)  # held: a collected Client closes its HTTP client
    if stream:
        return [c.text for c in client.models.generate_content_stream(model=model, contents="hello")]
    return client.models.generate_content(model=model, contents="hello").text


async def _gemini_acall(server, model, stream=False):
    client = _gemini(server)
    if stream:
        return [c.text async for c in await client.aio.models.generate_content_stream(model=model, contents="hello")]
    return (await client.aio.models.generate_content(model=model, contents="hello")).text


PROVIDERS = [
    Provider("openai", openai_answer, "openai", "chat", "gpt-4o", _openai_call, _openai_acall, (12, 3), (20, 2),
             openai.RateLimitError, "openai.RateLimitError"),
    Provider("anthropic", anthropic_answer, "anthropic", "chat", "claude-sonnet-4", _anthropic_call, _anthropic_acall, (25, 4), (30, 7),
             anthropic.APIStatusError, "anthropic.OverloadedError"),
    Provider("bedrock", bedrock_answer, "aws.bedrock", "chat", "anthropic.claude-3-5-haiku-20241022-v1:0", _bedrock_call, _bedrock_acall,
             (11, 5), (13, 2), ClientError, "botocore.errorfactory.ValidationException"),
    Provider("google_genai", gemini_answer, "gemini", "generate_content", "gemini-2.0-flash", _gemini_call, _gemini_acall, (8, 2), (9, 4),
             genai_errors.ClientError, "429"),  # the official instrumentation's error.type: the HTTP status
]
IDS = [p.name for p in PROVIDERS]


@pytest.fixture(params=PROVIDERS, ids=IDS)
def provider(request):
    p: Provider = request.param
    assert instrument([p.name]) == [p.name]
    try:
        with FakeProvider(p.answer) as server:
            yield p, server
    finally:
        uninstrument([p.name])


def _model_spans(otel):
    return [s for s in otel.spans() if s.kind == SpanKind.CLIENT and (s.attributes or {}).get(semconv.GEN_AI_OPERATION_NAME)]


def _usage(span):
    return span.attributes.get(semconv.GEN_AI_USAGE_INPUT_TOKENS), span.attributes.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)


def _token_metric(otel):
    return {p.attributes[semconv.GEN_AI_TOKEN_TYPE]: p.sum for p in otel.metrics().get(semconv.METRIC_TOKEN_USAGE, [])}


def test_sync_call_is_one_client_span_with_usage(otel, provider):
    p, server = provider
    assert p.call(server, p.model)
    (span,) = _model_spans(otel)
    assert span.name == f"{p.operation} {p.model}" and span.attributes[semconv.GEN_AI_PROVIDER_NAME] == p.provider
    assert _usage(span) == p.sync_usage
    assert _token_metric(otel) == {"input": p.sync_usage[0], "output": p.sync_usage[1]}


async def test_async_call(otel, provider):
    p, server = provider
    assert await p.acall(server, p.model)
    (span,) = _model_spans(otel)
    assert _usage(span) == p.sync_usage


def test_stream_records_usage_and_chunk_timing(otel, provider):
    p, server = provider
    assert p.call(server, p.model, stream=True)
    (span,) = _model_spans(otel)
    assert _usage(span) == p.stream_usage and span.attributes[semconv.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    m = otel.metrics()
    assert [pt.count for pt in m[semconv.METRIC_TIME_TO_FIRST_CHUNK]] == [1]
    assert sum(pt.count for pt in m["gen_ai.client.operation.time_per_output_chunk"]) >= 1


async def test_async_stream(otel, provider):
    p, server = provider
    assert await p.acall(server, p.model, stream=True)
    (span,) = _model_spans(otel)
    assert _usage(span) == p.stream_usage


def test_error_passes_through_and_marks_the_span(otel, provider):
    p, server = provider
    with pytest.raises(p.error):
        p.call(server, "fail")
    (span,) = _model_spans(otel)
    assert span.status.status_code == StatusCode.ERROR and span.attributes[semconv.ERROR_TYPE] == p.error_type


def test_llm_decorator_around_the_call_is_one_span_with_usage(otel, provider):
    """@llm outside, the official instrumentation inside: the outer span is enriched, not duplicated."""
    p, server = provider

    @agent_otel.agent("assistant")
    def run():
        @agent_otel.llm(model=p.model)
        def ask():
            return p.call(server, p.model)

        return ask()

    assert run()
    spans = _model_spans(otel)
    assert len(spans) == 1, [(s.name, s.instrumentation_scope.name) for s in spans]
    (span,) = spans
    assert span.instrumentation_scope.name == "agent_otel"
    assert span.attributes[semconv.GEN_AI_PROVIDER_NAME] == p.provider  # learned from the call inside
    assert _usage(span) == p.sync_usage
    assert _token_metric(otel) == {"input": p.sync_usage[0], "output": p.sync_usage[1]}  # counted once


async def test_llm_decorator_around_a_stream_counts_once(otel, provider):
    p, server = provider

    @agent_otel.llm(model=p.model)
    async def ask():
        return await p.acall(server, p.model, stream=True)

    assert await ask()
    (span,) = _model_spans(otel)
    assert _usage(span) == p.stream_usage and span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert _token_metric(otel) == {"input": p.stream_usage[0], "output": p.stream_usage[1]}


def test_report_tokens_and_cost_equal_the_servers_usage(otel, provider, tmp_path):
    from agent_otel.analyzer import build_report
    from agent_otel.analyzer.pricing import cost_usd, load_prices
    from agent_otel.analyzer.sources.local import LocalSource
    from agent_otel.localstore.exporters import LocalSpanExporter
    from agent_otel.localstore.store import Store

    p, server = provider

    @agent_otel.llm(model=p.model)
    def ask(stream):
        return p.call(server, p.model, stream=stream)

    ask(False)
    ask(True)
    spans = otel.spans()
    LocalSpanExporter(Store(tmp_path / "s.db")).export(spans)
    start = min(s.start_time for s in spans) - 1
    end = max(s.end_time for s in spans) + 1
    totals = build_report(LocalSource(tmp_path / "s.db"), start, end).to_dict()["totals"]
    inp, out = p.sync_usage[0] + p.stream_usage[0], p.sync_usage[1] + p.stream_usage[1]
    assert (totals["input_tokens"], totals["output_tokens"]) == (inp, out)
    table = load_prices(None)
    models = {s.attributes.get(semconv.GEN_AI_RESPONSE_MODEL) or s.attributes[semconv.GEN_AI_REQUEST_MODEL] for s in _model_spans(otel)}
    expected = sum(cost_usd(m, table, *u, provider=p.provider) for m, u in zip(sorted(models) * 2, (p.sync_usage, p.stream_usage)))
    assert totals["cost_usd"] == pytest.approx(expected, abs=5e-7)  # the report rounds to 1e-6 USD
    if importlib.util.find_spec("genai_prices") is not None:  # Python 3.11+; 3.10 prices from the built-in table
        assert expected > 0 and totals["price_source"].startswith("genai-prices ")


def test_openai_stream_usage_without_include_usage_side_by_side(otel):
    """The one thing agent-otel adds to the official OpenAI instrumentation, shown against it alone."""
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor as Official

    def stream_once(server):
        c = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        with c.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True) as s:
            return [ch.model_dump() for ch in s]

    with FakeProvider(openai_answer) as server:
        bare = stream_once(server)
        Official().instrument()
        try:
            official_alone = stream_once(server)
        finally:
            Official().uninstrument()
        (alone,) = _model_spans(otel)
        otel.span_exporter.clear()
        instrument(["openai"])
        try:
            ours = stream_once(server)
        finally:
            uninstrument(["openai"])
        (span,) = _model_spans(otel)
    assert bare == official_alone == ours and len(ours) == 3  # the caller sees exactly what it asked for
    assert _usage(alone) == (None, None)  # the official instrumentation alone: no usage
    assert _usage(span) == (20, 2)  # with agent-otel's layer: the server's usage
    same = {k: v for k, v in span.attributes.items() if k not in (semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
                                                                      semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)}
    assert same == {k: v for k, v in alone.attributes.items() if k != semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK}


def test_openai_caller_choice_of_include_usage_is_kept(otel):
    instrument(["openai"])
    try:
        with FakeProvider(openai_answer) as server:
            c = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
            chunks = list(c.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}))
            refused = list(c.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": False}))
    finally:
        uninstrument(["openai"])
    assert chunks[-1].usage.prompt_tokens == 20 and not chunks[-1].choices  # asked for: delivered
    assert len(refused) == 3
    first, second = _model_spans(otel)
    assert _usage(first) == (20, 2) and _usage(second) == (None, None)


def test_uninstrument_restores_the_clients():
    import anthropic.resources.messages as am
    import openai.resources.chat.completions as oc

    import anthropic._base_client as ab

    before = (oc.Completions.create, oc.AsyncCompletions.create, am.Messages.create, ab.start_api_call_span)
    instrument(["openai", "anthropic"])
    assert oc.Completions.create is not before[0]
    uninstrument(["openai", "anthropic"])
    assert (oc.Completions.create, oc.AsyncCompletions.create, am.Messages.create, ab.start_api_call_span) == before


def test_response_model_is_what_the_server_answered(otel):
    instrument(["openai", "anthropic", "google_genai"])
    try:
        with FakeProvider(openai_answer) as s1, FakeProvider(anthropic_answer) as s2, FakeProvider(gemini_answer) as s3:
            _openai_call(s1, "gpt-4o")
            _anthropic_call(s2, "claude-sonnet-4")
            _gemini_call(s3, "gemini-2.0-flash")
    finally:
        uninstrument(["openai", "anthropic", "google_genai"])
    assert sorted(s.attributes[semconv.GEN_AI_RESPONSE_MODEL] for s in _model_spans(otel)) == sorted([OPENAI_MODEL, ANTHROPIC_MODEL, GEMINI_MODEL])


def test_anthropic_sdk_own_span_is_not_a_second_model_call_side_by_side(otel):
    """The official Anthropic instrumentation alone leaves the SDK's own call span beside it, with the same
    usage (tokens counted twice by anything that sums spans); agent-otel's layer keeps only the official span."""
    from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor as Official

    with FakeProvider(anthropic_answer) as server:
        Official().instrument()
        try:
            _anthropic_call(server, "claude-sonnet-4")
        finally:
            Official().uninstrument()
        alone = _model_spans(otel)
        otel.span_exporter.clear()
        instrument(["anthropic"])
        try:
            _anthropic_call(server, "claude-sonnet-4")
            ours = _model_spans(otel)
            otel.span_exporter.clear()
            _anthropic_call(server, "claude-sonnet-4", stream=True)
            ours_streamed = _model_spans(otel)
        finally:
            uninstrument(["anthropic"])
        otel.span_exporter.clear()
        _anthropic_call(server, "claude-sonnet-4")  # nothing instrumented: the SDK's own span is left alone
        bare = _model_spans(otel)
    assert sorted(s.instrumentation_scope.name for s in alone) == ["com.anthropic.sdk.python", "opentelemetry.instrumentation.genai.anthropic"]
    assert sum(_usage(s)[0] for s in alone) == 2 * 25  # counted twice
    (span,) = ours
    assert span.instrumentation_scope.name == "opentelemetry.instrumentation.genai.anthropic" and _usage(span) == (25, 4)
    official = next(s for s in alone if s.instrumentation_scope.name == "opentelemetry.instrumentation.genai.anthropic")
    assert dict(span.attributes) == {**official.attributes, semconv.SERVER_PORT: span.attributes[semconv.SERVER_PORT]}  # exactly the official's
    assert [s.instrumentation_scope.name for s in ours_streamed] == ["opentelemetry.instrumentation.genai.anthropic"]
    assert [s.instrumentation_scope.name for s in bare] == ["com.anthropic.sdk.python"]


async def test_openai_async_stream_without_include_usage_gets_usage(otel):
    instrument(["openai"])
    try:
        with FakeProvider(openai_answer) as server:
            c = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
            async with await c.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True) as stream:
                chunks = [ch async for ch in stream]
    finally:
        uninstrument(["openai"])
    assert len(chunks) == 3 and all(ch.choices for ch in chunks)  # no extra usage-only chunk reaches the caller
    (span,) = _model_spans(otel)
    assert _usage(span) == (20, 2)
    assert _token_metric(otel) == {"input": 20, "output": 2}


def test_a_missing_official_instrumentation_is_named_with_the_extra_to_install(monkeypatch):
    from agent_otel.instrumentation import missing, registry

    monkeypatch.setitem(registry.OFFICIAL, "bedrock", registry.Official(
        "x:Y", "opentelemetry-instrumentation-genai-no-such", "1.3b0", ("boto3 >= 1",)))
    reason = missing("bedrock")
    assert "opentelemetry-instrumentation-genai-no-such" in reason and "agent-otel[bedrock]" in reason
    with pytest.raises(ValueError, match="bedrock"):
        instrument(["bedrock"])
    assert "bedrock" not in instrument()  # without names: skipped, the rest instrumented
    uninstrument()


def test_opentelemetry_instrument_finds_every_provider_instrumentation():
    """`opentelemetry-instrument` loads the `opentelemetry_instrumentor` entry points: the official packages'
    own, and agent-otel's (pyproject.toml), which must name importable instrumentors."""
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+ (the check runs there)")
    from importlib import import_module
    from importlib.metadata import entry_points
    from pathlib import Path

    from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

    installed = {ep.name for ep in entry_points(group="opentelemetry_instrumentor")}
    assert {"openai", "anthropic", "bedrock", "google-genai"} <= installed
    ours = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())["project"]["entry-points"]["opentelemetry_instrumentor"]
    for name, target in ours.items():
        module, cls = target.split(":")
        assert issubclass(getattr(import_module(module), cls), BaseInstrumentor), name
    assert "agent_otel_openai" in ours and "agent_otel_anthropic" in ours
