"""What a report reads off a span's name, status and attributes: one mapping, whether the span comes
from the SDK (the local store's exporter) or from a backend's OTLP-JSON answer (Jaeger)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from agent_otel import semconv


class SpanFields(NamedTuple):
    kind: str  # agent, tool, llm... ("span" for a span agent-otel did not make)
    target: str  # the agent/tool/model name; the span name otherwise
    error_type: str | None
    model: str | None
    provider: str | None
    input_tokens: Any
    output_tokens: Any


def span_fields(name: str, attributes: Mapping[str, Any], error: bool, status_message: str | None) -> SpanFields:
    a = attributes
    return SpanFields(
        a.get(semconv.AGENT_OTEL_KIND) or "span",
        a.get(semconv.AGENT_OTEL_NAME) or name,
        a.get(semconv.ERROR_TYPE) or (status_message if error else None),
        a.get(semconv.GEN_AI_RESPONSE_MODEL) or a.get(semconv.GEN_AI_REQUEST_MODEL) or a.get(semconv.AGENT_OTEL_INFERENCE_MODEL),
        a.get(semconv.GEN_AI_PROVIDER_NAME) or a.get(semconv.AGENT_OTEL_INFERENCE_PROVIDER),
        a.get(semconv.GEN_AI_USAGE_INPUT_TOKENS),
        a.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS),
    )
