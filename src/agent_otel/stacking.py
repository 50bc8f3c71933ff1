"""One model call, one model span, whatever is stacked: the outer layer records, inner ones enrich it.

This is opentelemetry-util-genai's own mechanism (1.3b0), used as it is rather than a second one
beside it. An inference invocation puts an `InferenceData` (embeddings: `EmbeddingData`) into its
context under `CLIENT_INFERENCE_CONTEXT_KEY`; an inference started inside it by any instrumentation
built on util-genai (the official OpenAI, Anthropic, Bedrock, LangChain... instrumentations) sees the
key, becomes a `SuppressedInferenceInvocation` — no span, no metrics, no event — and when it ends
merges what it learned (response model and id, finish reasons, usage including cache and reasoning
tokens, time to first chunk, request parameters, extra attributes such as the OpenAI service tier)
into that object. The outer invocation then fills its span from it, its own values winning.

agent-otel's model spans (`@llm`, `inference(operation=...)`, any instrumentor that records a model
call through the `Recorder`) take part the same way:

    ctx, data = open_model_call(ctx)          # before the call: inner GenAI instrumentations stay quiet
    ...
    applied = enrich(span, data)              # after it: what they learned lands on the outer span

`enrich` returns the attributes it set, so the caller records the token metric for usage that only
the inner layer knew (the suppressed invocation records none). `in_model_call()` tells any
instrumentation (a framework's, written here) that a model call is already being recorded, so it
should enrich rather than open a second span.

Why the attribute table is written here: util-genai builds the span attributes from `InferenceData`
inside a private method of the invocation (`_get_attributes`); the field -> attribute names below
mirror it.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span
from opentelemetry.util.genai.invocation import (
    CLIENT_EMBEDDING_CONTEXT_KEY,
    CLIENT_INFERENCE_CONTEXT_KEY,
    EmbeddingData,
    InferenceData,
)

from agent_otel import semconv

__all__ = ["open_model_call", "in_model_call", "published", "enrich", "inner_instrumentation_loaded", "CLIENT_INFERENCE_CONTEXT_KEY"]

# Every util-genai based instrumentation records through a TelemetryHandler from this module; until it
# is imported nothing can read the context key, and the decorators skip marking their calls (their
# hot path stays as it was for programs with no GenAI instrumentation loaded).
HANDLER_MODULE = "opentelemetry.util.genai.handler"

# InferenceData / EmbeddingData field -> span attribute (as util-genai's InferenceInvocation sets them).
_FIELDS: tuple[tuple[str, str], ...] = (
    ("provider_name", semconv.GEN_AI_PROVIDER_NAME),
    ("request_model", semconv.GEN_AI_REQUEST_MODEL),
    ("server_address", semconv.SERVER_ADDRESS),
    ("server_port", semconv.SERVER_PORT),
    ("conversation_id", semconv.GEN_AI_CONVERSATION_ID),
    ("request_stream", semconv.GEN_AI_REQUEST_STREAM),
    ("request_temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("request_top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("request_top_k", semconv.GEN_AI_REQUEST_TOP_K),
    ("request_frequency_penalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("request_presence_penalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("request_max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("request_stop_sequences", semconv.GEN_AI_REQUEST_STOP_SEQUENCES),
    ("request_seed", semconv.GEN_AI_REQUEST_SEED),
    ("request_choice_count", semconv.GEN_AI_REQUEST_CHOICE_COUNT),
    ("request_encoding_formats", semconv.GEN_AI_REQUEST_ENCODING_FORMATS),
    ("embeddings_dimension_count", semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT),
    ("response_finish_reasons", semconv.GEN_AI_RESPONSE_FINISH_REASONS),
    ("response_model", semconv.GEN_AI_RESPONSE_MODEL),
    ("response_id", semconv.GEN_AI_RESPONSE_ID),
    ("response_time_to_first_chunk", semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK),
    ("usage_input_tokens", semconv.GEN_AI_USAGE_INPUT_TOKENS),
    ("usage_output_tokens", semconv.GEN_AI_USAGE_OUTPUT_TOKENS),
    ("usage_cache_read_input_tokens", semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    ("usage_cache_write_input_tokens", semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS),
    ("usage_reasoning_output_tokens", semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
    ("output_type", semconv.GEN_AI_OUTPUT_TYPE),
)
_ZERO_MEANS_UNSET = {"usage_cache_read_input_tokens", "usage_cache_write_input_tokens", "usage_reasoning_output_tokens"}

# A fresh InferenceData per marked call without running the dataclass __init__ over ~50 fields (this
# runs on the decorator's hot path): fields with a plain default read it from the class until set, so
# only the ones built by a factory are made per instance. An unset object is then also cheap to detect.
def _factories(cls: type) -> tuple[tuple[str, Any], ...] | None:
    out = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            continue
        if f.default_factory is dataclasses.MISSING:
            return None  # a required field: use the constructor
        out.append((f.name, f.default_factory))
    return tuple(out)


_FACTORIES = {cls: _factories(cls) for cls in (InferenceData, EmbeddingData)}


def _fresh(cls: type) -> Any:
    factories = _FACTORIES[cls]
    if factories is None:
        return cls()
    data = object.__new__(cls)
    for name, factory in factories:
        setattr(data, name, factory())
    return data


def open_model_call(ctx: Context | None = None, operation: str | None = None) -> tuple[Context, Any]:
    """Mark `ctx` (default: the current context) as inside a model call being recorded.

    GenAI instrumentations built on util-genai that start inside it record no span of their own and
    publish what they learn into the returned data object; pass it to `enrich` when the call ends.
    """
    if operation == semconv.OP_EMBEDDINGS:
        data = _fresh(EmbeddingData)
        return otel_context.set_value(CLIENT_EMBEDDING_CONTEXT_KEY, data, ctx), data
    data = _fresh(InferenceData)
    return otel_context.set_value(CLIENT_INFERENCE_CONTEXT_KEY, data, ctx), data


def inner_instrumentation_loaded() -> bool:
    """Whether any util-genai based instrumentation can be running in this process (its handler module is loaded)."""
    return HANDLER_MODULE in sys.modules


def in_model_call(ctx: Context | None = None) -> bool:
    """Whether a model call is already being recorded in `ctx` (by agent-otel or any util-genai instrumentation)."""
    return isinstance(otel_context.get_value(CLIENT_INFERENCE_CONTEXT_KEY, ctx), InferenceData) or isinstance(
        otel_context.get_value(CLIENT_EMBEDDING_CONTEXT_KEY, ctx), EmbeddingData)


def published(data: Any) -> dict[str, Any]:
    """Span attributes from what inner invocations published into `data` (empty if none did)."""
    out: dict[str, Any] = {}
    for name, key in _FIELDS:
        value = getattr(data, name, None)
        if value is None or (name in _ZERO_MEANS_UNSET and not value):
            continue
        if isinstance(value, (list, tuple)):
            value = [str(v) for v in value]
            if not value:
                continue
        out[key] = value
    for key, value in (getattr(data, "attributes", None) or {}).items():
        out.setdefault(key, value)
    return out


def _untouched(data: Any) -> bool:
    """Nothing was published into `data` (the usual @llm without an instrumented client inside)."""
    d = getattr(data, "__dict__", None)
    return d is not None and len(d) == len(_FACTORIES.get(type(data)) or ()) and not getattr(data, "attributes", None)


def enrich(span: Span, data: Any, prefer_inner: tuple[str, ...] = ()) -> dict[str, Any]:
    """Set on `span` what inner invocations published and the span does not have yet; returns what was set.

    The outer span's own values win, as util-genai's root invocation keeps its own over its inner ones,
    except the keys in `prefer_inner` (values the outer only guessed, e.g. a provider inferred from a model name).
    """
    if data is None or _untouched(data) or not span.is_recording():
        return {}
    current = getattr(span, "attributes", None) or {}
    applied = {k: v for k, v in published(data).items() if k not in current or (k in prefer_inner and current[k] != v)}
    if applied:
        span.set_attributes(applied)
    return applied
