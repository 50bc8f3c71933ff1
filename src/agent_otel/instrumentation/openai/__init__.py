"""OpenAI client: `chat.completions.create` (sync, async, streaming) as `chat {model}` CLIENT spans, and
`embeddings.create` as `embeddings {model}` CLIENT spans.

Follows the span shape of the official opentelemetry-instrumentation-genai-openai (same span names,
`gen_ai.provider.name=openai`, request parameters, response attributes, usage, finish reasons,
`openai.response.service_tier/system_fingerprint`); use one or the other, not both. Token counts of
streams arrive only when the request asks for them (`stream_options={"include_usage": True}`);
without it the span has no usage, as the API sends none.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import urlparse

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap

from agent_otel import content, semconv
from agent_otel.instrumentation._client import ModelCall, StreamProxy, acall, call
from agent_otel.instrumentation.openai.package import _instruments
from agent_otel.recorder import recorder_for

_MODULE = "openai.resources.chat.completions"
_EMBEDDINGS = "openai.resources.embeddings"
PROVIDER = "openai"


def _server(instance: Any) -> tuple[str | None, int | None]:
    try:
        url = urlparse(str(instance._client.base_url))
        return url.hostname, url.port or (443 if url.scheme == "https" else 80)
    except Exception:  # noqa: BLE001
        return None, None


def _given(value: Any) -> Any:
    """openai's NOT_GIVEN / Omit sentinels count as absent."""
    return None if value is None or type(value).__name__ in ("NotGiven", "Omit") else value


def _output_type(kwargs: dict) -> str | None:
    fmt = _given(kwargs.get("response_format"))
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind in ("json_object", "json_schema"):
        return "json"
    if kind == "text":
        return "text"
    return None


def _chat_request(kwargs: dict) -> dict[str, Any]:
    g = lambda k: _given(kwargs.get(k))  # noqa: E731
    stop = g("stop")
    n = g("n")
    return {
        semconv.GEN_AI_REQUEST_MAX_TOKENS: g("max_tokens") or g("max_completion_tokens"),
        semconv.GEN_AI_REQUEST_TEMPERATURE: g("temperature"),
        semconv.GEN_AI_REQUEST_TOP_P: g("top_p"),
        semconv.GEN_AI_REQUEST_SEED: g("seed"),
        semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY: g("frequency_penalty"),
        semconv.GEN_AI_REQUEST_PRESENCE_PENALTY: g("presence_penalty"),
        semconv.GEN_AI_REQUEST_STOP_SEQUENCES: [stop] if isinstance(stop, str) else (list(stop) if stop else None),
        semconv.GEN_AI_REQUEST_CHOICE_COUNT: n if n is not None and n != 1 else None,
        semconv.GEN_AI_OUTPUT_TYPE: _output_type(kwargs),
        semconv.GEN_AI_REQUEST_STREAM: True if kwargs.get("stream") else None,
    }


def _make(instance: Any, rec: Any):  # type: ignore[no-untyped-def]
    def make(kwargs: dict) -> ModelCall:
        messages = tools = None
        if content.wanted():
            messages = content.input_messages(kwargs.get("messages"))
            tools = content.tool_definitions(_given(kwargs.get("tools")))
        return ModelCall(PROVIDER, semconv.OP_CHAT, kwargs.get("model"), server=_server(instance), request=_chat_request(kwargs),
                         messages=messages, tools=tools, recorder=rec)

    return make


def _openai_extra(resp: Any) -> dict[str, Any]:
    return {
        semconv.OPENAI_RESPONSE_SERVICE_TIER: getattr(resp, "service_tier", None) or None,
        semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: getattr(resp, "system_fingerprint", None) or None,
    }


def _cached(usage: Any) -> int | None:
    details = getattr(usage, "prompt_tokens_details", None)
    value = getattr(details, "cached_tokens", None)
    return int(value) if isinstance(value, int) else None


def _on_response(mc: ModelCall, resp: Any) -> None:
    usage = getattr(resp, "usage", None)
    choices = getattr(resp, "choices", None) or []
    mc.response(
        model=getattr(resp, "model", None),
        response_id=getattr(resp, "id", None),
        finish_reasons=[c.finish_reason for c in choices],
        input_tokens=getattr(usage, "prompt_tokens", None),
        output_tokens=getattr(usage, "completion_tokens", None),
        cache_read_tokens=_cached(usage),
        output=content.openai_output_messages(choices) if content.wanted() else None,
        extra=_openai_extra(resp),
    )


def _on_chunk(state: dict, chunk: Any) -> None:
    state.setdefault("model", getattr(chunk, "model", None))
    state.setdefault("id", getattr(chunk, "id", None))
    for key, value in _openai_extra(chunk).items():
        if value:
            state.setdefault("extra", {})[key] = value
    keep = content.wanted()
    for choice in getattr(chunk, "choices", None) or []:
        index = getattr(choice, "index", 0) or 0
        acc = state.setdefault("choices", {}).setdefault(index, {"text": [], "tools": {}, "finish": None})
        if choice.finish_reason:
            acc["finish"] = choice.finish_reason
        delta = getattr(choice, "delta", None)
        if keep and delta is not None:
            if getattr(delta, "content", None):
                acc["text"].append(delta.content)
            for tc in getattr(delta, "tool_calls", None) or []:
                slot = acc["tools"].setdefault(getattr(tc, "index", 0), {"id": None, "name": None, "arguments": []})
                slot["id"] = slot["id"] or getattr(tc, "id", None)
                fn = getattr(tc, "function", None)
                if fn is not None:
                    slot["name"] = slot["name"] or getattr(fn, "name", None)
                    if getattr(fn, "arguments", None):
                        slot["arguments"].append(fn.arguments)
    if getattr(chunk, "usage", None):
        state["usage"] = chunk.usage


def _stream_output(state: dict) -> list[dict[str, Any]] | None:
    if not content.wanted():
        return None
    out = []
    for _, acc in sorted((state.get("choices") or {}).items()):
        parts = [content.text_part("".join(acc["text"]))] if acc["text"] else []
        for _, tc in sorted(acc["tools"].items()):
            parts.append({"type": "tool_call", "id": tc["id"], "name": tc["name"], "arguments": content.parse_arguments("".join(tc["arguments"]))})
        out.append(content.output_message(parts, acc["finish"]))
    return out


def _on_done(mc: ModelCall, state: dict) -> None:
    usage = state.get("usage")
    mc.response(
        model=state.get("model"), response_id=state.get("id"),
        finish_reasons=[acc["finish"] for _, acc in sorted((state.get("choices") or {}).items()) if acc["finish"]],
        input_tokens=getattr(usage, "prompt_tokens", None), output_tokens=getattr(usage, "completion_tokens", None),
        cache_read_tokens=_cached(usage), output=_stream_output(state), extra=state.get("extra"),
    )


def _wrap_stream(stream: Any, mc: ModelCall) -> Any:
    return StreamProxy(stream, mc, _on_chunk, _on_done)


def _embeddings_make(instance: Any, rec: Any):  # type: ignore[no-untyped-def]
    def make(kwargs: dict) -> ModelCall:
        fmt = _given(kwargs.get("encoding_format"))
        request = {
            semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: _given(kwargs.get("dimensions")),
            semconv.GEN_AI_REQUEST_ENCODING_FORMATS: [fmt] if fmt else None,
        }
        return ModelCall(PROVIDER, semconv.OP_EMBEDDINGS, kwargs.get("model"), server=_server(instance), request=request, recorder=rec)

    return make


def _on_embeddings(mc: ModelCall, resp: Any) -> None:
    usage = getattr(resp, "usage", None)
    mc.response(model=getattr(resp, "model", None), input_tokens=getattr(usage, "prompt_tokens", None))


class OpenAIInstrumentor(BaseInstrumentor):
    """Spans, token usage, duration and stream metrics for OpenAI chat completions and embeddings."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        rec = recorder_for(kwargs)

        def create(wrapped: Any, instance: Any, args: tuple, kw: dict) -> Any:
            return call(_make(instance, rec), wrapped, args, kw, _on_response, _wrap_stream)

        async def acreate(wrapped: Any, instance: Any, args: tuple, kw: dict) -> Any:
            return await acall(_make(instance, rec), wrapped, args, kw, _on_response, _wrap_stream)

        def embed(wrapped: Any, instance: Any, args: tuple, kw: dict) -> Any:
            return call(_embeddings_make(instance, rec), wrapped, args, kw, _on_embeddings, None)

        async def aembed(wrapped: Any, instance: Any, args: tuple, kw: dict) -> Any:
            return await acall(_embeddings_make(instance, rec), wrapped, args, kw, _on_embeddings, None)

        wrapt.wrap_function_wrapper(_MODULE, "Completions.create", create)
        wrapt.wrap_function_wrapper(_MODULE, "AsyncCompletions.create", acreate)
        wrapt.wrap_function_wrapper(_EMBEDDINGS, "Embeddings.create", embed)
        wrapt.wrap_function_wrapper(_EMBEDDINGS, "AsyncEmbeddings.create", aembed)

    def _uninstrument(self, **kwargs: Any) -> None:
        import openai.resources.chat.completions as mod
        import openai.resources.embeddings as emb

        unwrap(mod.Completions, "create")
        unwrap(mod.AsyncCompletions, "create")
        unwrap(emb.Embeddings, "create")
        unwrap(emb.AsyncEmbeddings, "create")
