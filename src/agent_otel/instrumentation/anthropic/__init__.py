"""Anthropic client: `messages.create` (sync, async, `stream=True`) as `chat {model}` CLIENT spans.

Same shape as the OpenAI instrumentation: `gen_ai.provider.name=anthropic`, usage from the
response (streams: `message_start` carries input tokens, `message_delta` output tokens and the
stop reason), finish reasons, errors.
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
from agent_otel.instrumentation.anthropic.package import _instruments

_MODULE = "anthropic.resources.messages"
PROVIDER = "anthropic"


def _server(instance: Any) -> tuple[str | None, int | None]:
    try:
        url = urlparse(str(instance._client.base_url))
        return url.hostname, url.port or (443 if url.scheme == "https" else 80)
    except Exception:  # noqa: BLE001
        return None, None


def _make(instance: Any):  # type: ignore[no-untyped-def]
    def make(kwargs: dict) -> ModelCall:
        request = {
            semconv.GEN_AI_REQUEST_MAX_TOKENS: kwargs.get("max_tokens"),
            semconv.GEN_AI_REQUEST_TEMPERATURE: kwargs.get("temperature"),
            semconv.GEN_AI_REQUEST_STREAM: bool(kwargs.get("stream")) or None,
        }
        return ModelCall(PROVIDER, semconv.OP_CHAT, kwargs.get("model"), server=_server(instance), request=request, messages=kwargs.get("messages"))

    return make


def _on_response(mc: ModelCall, resp: Any) -> None:
    usage = getattr(resp, "usage", None)
    mc.response(
        model=getattr(resp, "model", None),
        response_id=getattr(resp, "id", None),
        finish_reasons=[getattr(resp, "stop_reason", None)],
        input_tokens=getattr(usage, "input_tokens", None),
        output_tokens=getattr(usage, "output_tokens", None),
        output=[{"type": getattr(b, "type", None), "text": getattr(b, "text", None)} for b in getattr(resp, "content", None) or []],
    )


def _on_chunk(state: dict, event: Any) -> None:
    kind = getattr(event, "type", None)
    if kind == "message_start":
        msg = event.message
        state["model"], state["id"] = msg.model, msg.id
        state["input"] = getattr(msg.usage, "input_tokens", None)
    elif kind == "message_delta":
        state["stop"] = getattr(event.delta, "stop_reason", None)
        state["output"] = getattr(event.usage, "output_tokens", None)


def _on_done(mc: ModelCall, state: dict) -> None:
    mc.response(model=state.get("model"), response_id=state.get("id"), finish_reasons=[state.get("stop")],
                input_tokens=state.get("input"), output_tokens=state.get("output"))


def _wrap_stream(stream: Any, mc: ModelCall) -> Any:
    return StreamProxy(stream, mc, _on_chunk, _on_done)


def _create(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    return call(_make(instance), wrapped, args, kwargs, _on_response, _wrap_stream)


async def _acreate(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    return await acall(_make(instance), wrapped, args, kwargs, _on_response, _wrap_stream)


class AnthropicInstrumentor(BaseInstrumentor):
    """Spans, token usage and duration metrics for Anthropic messages."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        wrapt.wrap_function_wrapper(_MODULE, "Messages.create", _create)
        wrapt.wrap_function_wrapper(_MODULE, "AsyncMessages.create", _acreate)

    def _uninstrument(self, **kwargs: Any) -> None:
        import anthropic.resources.messages as mod

        unwrap(mod.Messages, "create")
        unwrap(mod.AsyncMessages, "create")
