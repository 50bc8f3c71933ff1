"""One model call, one span: @llm around any util-genai based instrumentation (stacking.py).

The inner layer here is util-genai's own TelemetryHandler, which every official GenAI
instrumentation is built on: whatever it does is what they do.
"""

from __future__ import annotations

from opentelemetry.util.genai.handler import TelemetryHandler

import agent_otel
from agent_otel import semconv
from agent_otel.stacking import enrich, in_model_call, open_model_call


def _inner_call(handler: TelemetryHandler, *, cache_read: int = 0, cache_write: int = 0, reasoning: int = 0) -> None:
    inv = handler.inference("openai", request_model="gpt-4o", server_address="api.example", server_port=443)
    inv.response_model_name = "gpt-4o-2024-08-06"
    inv.response_id = "r-1"
    inv.finish_reasons = ["stop"]
    inv.input_tokens, inv.output_tokens = 100, 20
    inv.cache_read_input_tokens = cache_read or None
    inv.cache_write_input_tokens = cache_write or None
    inv.thinking_tokens = reasoning or None
    inv.temperature = 0.3
    inv.stop()


def test_llm_around_a_util_genai_call_is_one_span_enriched_by_it(otel):
    handler = TelemetryHandler(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)

    @agent_otel.llm(model="my-model")
    def ask():
        assert in_model_call()
        _inner_call(handler, cache_read=40, cache_write=10, reasoning=5)
        return "ok"

    assert not in_model_call()
    ask()
    (span,) = otel.spans()
    a = span.attributes
    assert span.name == "chat my-model" and span.instrumentation_scope.name == "agent_otel"
    assert a[semconv.GEN_AI_REQUEST_MODEL] == "my-model"  # the outer's own value wins
    assert (a[semconv.GEN_AI_PROVIDER_NAME], a[semconv.GEN_AI_RESPONSE_MODEL], a[semconv.GEN_AI_RESPONSE_ID]) == ("openai", "gpt-4o-2024-08-06", "r-1")
    assert (a[semconv.GEN_AI_USAGE_INPUT_TOKENS], a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (100, 20)
    assert a[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 40 and a[semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 10
    assert a[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 5 and a[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert (a[semconv.SERVER_ADDRESS], a[semconv.SERVER_PORT]) == ("api.example", 443)
    points = otel.metrics()
    usage = {(p.attributes[semconv.GEN_AI_TOKEN_TYPE], p.attributes[semconv.GEN_AI_PROVIDER_NAME]): p.sum for p in points[semconv.METRIC_TOKEN_USAGE]}
    assert usage == {("input", "openai"): 100, ("output", "openai"): 20}  # once, by the outer span
    durations = points[semconv.METRIC_OPERATION_DURATION]
    assert len(durations) == 1 and durations[0].count == 1 and durations[0].attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"


def test_usage_the_outer_recorded_itself_is_not_counted_again(otel):
    handler = TelemetryHandler(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)

    @agent_otel.llm(model="gpt-4o", provider="openai")
    def ask():
        agent_otel.record_usage(7, 3)
        _inner_call(handler)

    ask()
    (span,) = otel.spans()
    assert (span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS], span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (7, 3)
    usage = {p.attributes[semconv.GEN_AI_TOKEN_TYPE]: p.sum for p in otel.metrics()[semconv.METRIC_TOKEN_USAGE]}
    assert usage == {"input": 7, "output": 3}


def test_a_provider_guessed_from_the_model_name_yields_to_the_clients(otel):
    handler = TelemetryHandler(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)

    @agent_otel.llm(model="gpt-4o")  # guessed: openai
    def guessed():
        inv = handler.inference("azure.ai.openai", request_model="gpt-4o")
        inv.stop()

    @agent_otel.llm(model="gpt-4o", provider="openai")  # given: kept
    def given():
        inv = handler.inference("azure.ai.openai", request_model="gpt-4o")
        inv.stop()

    guessed()
    given()
    assert [s.attributes[semconv.GEN_AI_PROVIDER_NAME] for s in otel.spans()] == ["azure.ai.openai", "openai"]


def test_util_genai_outside_any_model_call_records_its_own_span(otel):
    TelemetryHandler(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider).inference("openai", request_model="gpt-4o").stop()
    (span,) = otel.spans()
    assert span.instrumentation_scope.name != "agent_otel"


def test_open_and_enrich_for_a_framework_instrumentation(otel):
    """What a framework instrumentation written here does around its own model span."""
    from opentelemetry import context, trace

    handler = TelemetryHandler(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    tracer = otel.tracer_provider.get_tracer("framework")
    span = tracer.start_span("chat gpt-4o", kind=trace.SpanKind.CLIENT)
    ctx, data = open_model_call(trace.set_span_in_context(span))
    token = context.attach(ctx)
    try:
        _inner_call(handler)
    finally:
        context.detach(token)
    applied = enrich(span, data)
    span.end()
    assert applied[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 100
    assert [s.name for s in otel.spans()] == ["chat gpt-4o"]
    assert enrich(span, None) == {}


def test_without_any_genai_instrumentation_loaded_the_decorator_marks_nothing(otel, monkeypatch):
    """No util-genai handler module in the process: nothing could read the mark, so @llm skips making it."""
    import sys

    from agent_otel import stacking

    monkeypatch.delitem(sys.modules, stacking.HANDLER_MODULE)
    assert not stacking.inner_instrumentation_loaded()

    @agent_otel.llm(model="gpt-4o", provider="openai")
    def ask():
        return in_model_call()

    assert ask() is False
    (span,) = otel.spans()
    assert span.name == "chat gpt-4o"
