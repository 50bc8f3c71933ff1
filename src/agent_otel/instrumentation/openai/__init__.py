"""OpenAI client: `chat.completions.create` (sync, async, streaming) as `chat {model}` CLIENT spans.

Follows the span shape of the official opentelemetry-instrumentation-openai-v2 (same span name,
`gen_ai.provider.name=openai`, request/response attributes, usage, finish reasons); use one or
the other, not both. Token counts of streams arrive only when the request asks for them
(`stream_options={"include_usage": True}`); without it the span has no usage, as the API sends none.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import urlparse

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap

from agent_otel import semconv
from agent_otel.instrumentation._client import ModelCall, StreamProxy, acall, call
from agent_otel.instrumentation.openai.package import _instruments

_MODULE = "openai.resources.chat.completions"
PROVIDER = "openai"


def _server(instance: Any) -> tuple[str | None, int | None]:
    try:
        url = urlparse(str(instance._client.base_url))
        return url.hostname, url.port or (443 if url.scheme == "https" else 80)
    except Exception:  # noqa: BLE001
        return None, None


def _make(instance: Any):  # type: ignore[no-untyped-def]
    def make(kwargs: dict) -> ModelCall:
        request = {
            semconv.GEN_AI_REQUEST_MAX_TOKENS: kwargs.get("max_tokens") or kwargs.get("max_completion_tokens"),
            semconv.GEN_AI_REQUEST_TEMPERATURE: kwargs.get("temperature"),
            semconv.GEN_AI_REQUEST_STREAM: bool(kwargs.get("stream")) or None,
        }
        return ModelCall(PROVIDER, semconv.OP_CHAT, kwargs.get("model"), server=_server(instance), request=request, messages=kwargs.get("messages"))

    return make


def _on_response(mc: ModelCall, resp: Any) -> None:
    usage = getattr(resp, "usage", None)
    choices = getattr(resp, "choices", None) or []
    mc.response(
        model=getattr(resp, "model", None),
        response_id=getattr(resp, "id", None),
        finish_reasons=[c.finish_reason for c in choices],
        input_tokens=getattr(usage, "prompt_tokens", None),
        output_tokens=getattr(usage, "completion_tokens", None),
        output=[{"role": "assistant", "content": getattr(c.message, "content", None)} for c in choices],
    )


def _on_chunk(state: dict, chunk: Any) -> None:
    state.setdefault("model", getattr(chunk, "model", None))
    state.setdefault("id", getattr(chunk, "id", None))
    for choice in getattr(chunk, "choices", None) or []:
        if choice.finish_reason:
            state.setdefault("finish", []).append(choice.finish_reason)
    if getattr(chunk, "usage", None):
        state["usage"] = chunk.usage


def _on_done(mc: ModelCall, state: dict) -> None:
    usage = state.get("usage")
    mc.response(
        model=state.get("model"), response_id=state.get("id"), finish_reasons=state.get("finish"),
        input_tokens=getattr(usage, "prompt_tokens", None), output_tokens=getattr(usage, "completion_tokens", None),
    )


def _wrap_stream(stream: Any, mc: ModelCall) -> Any:
    return StreamProxy(stream, mc, _on_chunk, _on_done)


def _create(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    return call(_make(instance), wrapped, args, kwargs, _on_response, _wrap_stream)


async def _acreate(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    return await acall(_make(instance), wrapped, args, kwargs, _on_response, _wrap_stream)


class OpenAIInstrumentor(BaseInstrumentor):
    """Spans, token usage and duration metrics for OpenAI chat completions."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        wrapt.wrap_function_wrapper(_MODULE, "Completions.create", _create)
        wrapt.wrap_function_wrapper(_MODULE, "AsyncCompletions.create", _acreate)

    def _uninstrument(self, **kwargs: Any) -> None:
        import openai.resources.chat.completions as mod

        unwrap(mod.Completions, "create")
        unwrap(mod.AsyncCompletions, "create")
