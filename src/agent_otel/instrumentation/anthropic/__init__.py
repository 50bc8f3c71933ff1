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

from agent_otel import content, semconv
from agent_otel.instrumentation._client import ModelCall, StreamProxy, acall, call
from agent_otel.instrumentation.anthropic.package import _instruments
from agent_otel.recorder import recorder_for

_MODULE = "anthropic.resources.messages"
PROVIDER = "anthropic"


def _server(instance: Any) -> tuple[str | None, int | None]:
    try:
        url = urlparse(str(instance._client.base_url))
        return url.hostname, url.port or (443 if url.scheme == "https" else 80)
    except Exception:  # noqa: BLE001
        return None, None


def _given(value: Any) -> Any:
    return None if value is None or type(value).__name__ in ("NotGiven", "Omit") else value


def _make(instance: Any, rec: Any):  # type: ignore[no-untyped-def]
    def make(kwargs: dict) -> ModelCall:
        g = lambda k: _given(kwargs.get(k))  # noqa: E731
        request = {
            semconv.GEN_AI_REQUEST_MAX_TOKENS: g("max_tokens"),
            semconv.GEN_AI_REQUEST_TEMPERATURE: g("temperature"),
            semconv.GEN_AI_REQUEST_TOP_P: g("top_p"),
            semconv.GEN_AI_REQUEST_TOP_K: g("top_k"),
            semconv.GEN_AI_REQUEST_STOP_SEQUENCES: list(g("stop_sequences")) if g("stop_sequences") else None,
            semconv.GEN_AI_REQUEST_STREAM: True if kwargs.get("stream") else None,
        }
        messages = system = tools = None
        if content.wanted():
            messages = content.input_messages(kwargs.get("messages"))
            system = content.system_instructions(g("system"))
            tools = content.tool_definitions(g("tools"))
        return ModelCall(PROVIDER, semconv.OP_CHAT, kwargs.get("model"), server=_server(instance), request=request,
                         messages=messages, system=system, tools=tools, recorder=rec)

    return make


def _on_response(mc: ModelCall, resp: Any) -> None:
    usage = getattr(resp, "usage", None)
    mc.response(
        model=getattr(resp, "model", None),
        response_id=getattr(resp, "id", None),
        finish_reasons=[getattr(resp, "stop_reason", None)],
        input_tokens=_input_tokens(usage),
        output_tokens=getattr(usage, "output_tokens", None),
        cache_read_tokens=_int(getattr(usage, "cache_read_input_tokens", None)),
        output=content.anthropic_output_messages(resp) if content.wanted() else None,
    )


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) else None


def _input_tokens(usage: Any) -> int | None:
    """Input tokens including cached ones, as the conventions count them (Anthropic reports them apart)."""
    base = _int(getattr(usage, "input_tokens", None))
    if base is None:
        return None
    return base + (_int(getattr(usage, "cache_read_input_tokens", None)) or 0) + (_int(getattr(usage, "cache_creation_input_tokens", None)) or 0)


def _on_chunk(state: dict, event: Any) -> None:
    kind = getattr(event, "type", None)
    if kind == "message_start":
        msg = event.message
        state["model"], state["id"] = msg.model, msg.id
        state["input"] = _input_tokens(msg.usage)
        state["cached"] = _int(getattr(msg.usage, "cache_read_input_tokens", None))
    elif kind == "message_delta":
        state["stop"] = getattr(event.delta, "stop_reason", None)
        state["output"] = getattr(event.usage, "output_tokens", None)
    elif kind == "content_block_start" and content.wanted():
        block = event.content_block
        state.setdefault("blocks", {})[event.index] = {"type": getattr(block, "type", "text"), "id": getattr(block, "id", None),
                                                        "name": getattr(block, "name", None), "text": [], "json": []}
    elif kind == "content_block_delta" and content.wanted():
        slot = state.setdefault("blocks", {}).setdefault(event.index, {"type": "text", "id": None, "name": None, "text": [], "json": []})
        delta = event.delta
        if getattr(delta, "text", None):
            slot["text"].append(delta.text)
        if getattr(delta, "partial_json", None):
            slot["json"].append(delta.partial_json)


def _stream_output(state: dict) -> list[dict[str, Any]] | None:
    if not content.wanted():
        return None
    parts = []
    for _, b in sorted((state.get("blocks") or {}).items()):
        if b["type"] == "tool_use":
            parts.append({"type": "tool_call", "id": b["id"], "name": b["name"], "arguments": content.parse_arguments("".join(b["json"]) or "{}")})
        else:
            parts.append(content.text_part("".join(b["text"])))
    return [content.output_message(parts, state.get("stop"))]


def _on_done(mc: ModelCall, state: dict) -> None:
    mc.response(model=state.get("model"), response_id=state.get("id"), finish_reasons=[state.get("stop")],
                input_tokens=state.get("input"), output_tokens=state.get("output"), cache_read_tokens=state.get("cached"),
                output=_stream_output(state))


def _wrap_stream(stream: Any, mc: ModelCall) -> Any:
    return StreamProxy(stream, mc, _on_chunk, _on_done)


class AnthropicInstrumentor(BaseInstrumentor):
    """Spans, token usage and duration metrics for Anthropic messages."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        rec = recorder_for(kwargs)

        def create(wrapped: Any, instance: Any, args: tuple, kw: dict) -> Any:
            return call(_make(instance, rec), wrapped, args, kw, _on_response, _wrap_stream)

        async def acreate(wrapped: Any, instance: Any, args: tuple, kw: dict) -> Any:
            return await acall(_make(instance, rec), wrapped, args, kw, _on_response, _wrap_stream)

        wrapt.wrap_function_wrapper(_MODULE, "Messages.create", create)
        wrapt.wrap_function_wrapper(_MODULE, "AsyncMessages.create", acreate)

    def _uninstrument(self, **kwargs: Any) -> None:
        import anthropic.resources.messages as mod

        unwrap(mod.Messages, "create")
        unwrap(mod.AsyncMessages, "create")
