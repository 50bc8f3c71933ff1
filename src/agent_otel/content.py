"""Opt-in content capture: whether to record prompts/arguments/results, in which shapes, made safe how.

Content is never recorded unless the user opts in: ``configure(capture_content=True)``, a
decorator's ``capture_content=True``, or ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
read exactly as opentelemetry-util-genai reads it (``span_only``, ``event_only``,
``span_and_event``, ``no_content``, case-insensitive), plus ``true`` (= span_only) / ``false``
(= no_content) as the older instrumentations accepted; any other value is warned about once and
means no_content. ``OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT`` (true/false) switches the
``gen_ai.client.inference.operation.details`` event as util-genai does.

Model-call content is recorded in the conventions' JSON schemas (gen-ai-input-messages.json,
gen-ai-output-messages.json, gen-ai-system-instructions.json, gen-ai-tool-definitions.json):
messages with ``role`` + ``parts`` (text, tool_call, tool_call_response, uri, ...), output
messages with ``finish_reason``. The converters here turn OpenAI / Anthropic / plain-Python
shapes into those. Every string inside is truncated and redacted for secrets, so the JSON stays
valid whatever is cut.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agent_otel import redaction, semconv, settings

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
MODES = ("no_content", "span_only", "event_only", "span_and_event")
_logger = logging.getLogger("agent_otel")
_warned: set[str] = set()
DEFAULT_MAX_LENGTH = 4096
REDACTED = redaction.REDACTED

# The secret shapes live in `agent_otel.redaction` (one policy for content and every exported signal).
DEFAULT_PATTERNS: tuple[str, ...] = tuple(p.regex for p in redaction.DEFAULT_PATTERNS)


def capture_mode_from_env() -> str:
    """The content mode as util-genai reads OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT (plus true/false)."""
    for name in (semconv.ENV_CAPTURE_CONTENT, semconv.ENV_AGENT_OTEL_CAPTURE_CONTENT):
        raw = (settings.raw(name) or "").lower()
        if not raw:
            continue
        if raw in MODES:
            return raw
        if raw in _TRUE:
            return "span_only"
        if raw in _FALSE:
            return "no_content"
        if name not in _warned:
            _warned.add(name)
            _logger.warning("%s=%r is not one of %s, true, false: content is not captured", name, raw, ", ".join(MODES))
        return "no_content"
    return "no_content"


def emit_event_from_env(mode: str) -> bool:
    """Whether the inference-details event is emitted (util-genai: EMIT_EVENT, else the content mode)."""
    raw = (settings.raw(semconv.ENV_EMIT_EVENT) or "").lower()
    if raw == "true":
        return True
    if raw == "false":
        return False
    if raw and semconv.ENV_EMIT_EVENT not in _warned:
        _warned.add(semconv.ENV_EMIT_EVENT)
        _logger.warning("%s=%r is not true or false: following the content mode", semconv.ENV_EMIT_EVENT, raw)
    return mode in ("event_only", "span_and_event")


@dataclass
class ContentPolicy:
    """Process-wide content settings; `configure()` replaces it, env vars give the defaults."""

    capture: bool = False  # content on spans (span_only / span_and_event)
    max_length: int = DEFAULT_MAX_LENGTH
    patterns: redaction.Policy | None = None  # None: the process-wide policy (redaction.active())
    on_event: bool = False  # content in the inference-details event (event_only / span_and_event)
    events: bool = False  # emit the inference-details event at all

    @property
    def on_span(self) -> bool:
        return self.capture

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"content mode: expected one of {', '.join(MODES)}, got {mode!r}")
        self.capture = mode in ("span_only", "span_and_event")
        self.on_event = mode in ("event_only", "span_and_event")
        self.events = emit_event_from_env(mode)

    @classmethod
    def from_env(cls) -> ContentPolicy:
        pol = cls(max_length=settings.positive_int(semconv.ENV_MAX_CONTENT_LENGTH) or DEFAULT_MAX_LENGTH)
        pol.set_mode(capture_mode_from_env())
        return pol


def compile_patterns(extra: Iterable[str], *, emails: bool | None = None) -> redaction.Policy:
    """Default secret patterns plus the user's (see `agent_otel.redaction`); a bad regex is an error naming it."""
    return redaction.build(extra, emails=emails)


_policy: ContentPolicy | None = None


def policy() -> ContentPolicy:
    global _policy
    if _policy is None:
        try:
            _policy = ContentPolicy.from_env()
        except ValueError:
            _policy = ContentPolicy()
    return _policy


def set_policy(new: ContentPolicy | None) -> None:
    """Install a policy (None: re-read the environment at next use)."""
    global _policy
    _policy = new


def redact(text: str, pol: ContentPolicy | None = None) -> str:
    return ((pol or policy()).patterns or redaction.active()).redact(text)


def _default(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray)):
        return obj.decode("utf-8", errors="replace")
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return repr(obj)


def render(value: Any, pol: ContentPolicy | None = None) -> str:
    """A value as a bounded, redacted string attribute (JSON where it can be)."""
    pol = pol or policy()
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=_default, ensure_ascii=False)
        except (ValueError, TypeError, RecursionError):
            try:
                text = repr(value)
            except Exception:  # noqa: BLE001 - RecursionError, or a user __repr__ that raises
                text = f"<{type(value).__qualname__}: not representable>"
    # Truncate before redaction (bounded work), then again after (replacements may grow it).
    limit = pol.max_length
    if len(text) > limit * 2:
        text = text[: limit * 2]
    text = redact(text, pol)
    if len(text) > limit:
        text = text[: max(limit - 3, 0)] + "..."
    # Lone surrogates are not valid UTF-8 and would fail the OTLP encoder.
    return text.encode("utf-8", errors="replace").decode("utf-8")


# --- the conventions' message shapes --------------------------------------------------------


def clean_structure(value: Any, pol: ContentPolicy | None = None, _depth: int = 0) -> Any:
    """`value` with every string truncated and redacted, other leaves JSON-safe; structure kept."""
    pol = pol or policy()
    if isinstance(value, str):
        text = redact(value[: pol.max_length * 2], pol)
        if len(text) > pol.max_length:
            text = text[: max(pol.max_length - 3, 0)] + "..."
        return text.encode("utf-8", errors="replace").decode("utf-8")
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if _depth > 20:
        return render(value, pol)
    if isinstance(value, dict):
        return {str(k): clean_structure(v, pol, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_structure(v, pol, _depth + 1) for v in value]
    return render(value, pol)


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _plain(obj: Any) -> Any:
    """pydantic models / objects as dicts, so the converters read one shape."""
    dump = getattr(obj, "model_dump", None)
    if callable(dump) and not isinstance(obj, dict):
        try:
            return dump()
        except Exception:  # noqa: BLE001
            return obj
    return obj


def parse_arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def text_part(text: Any) -> dict[str, Any]:
    return {"type": "text", "content": text if isinstance(text, str) else render(text)}


def _content_parts(content: Any) -> list[dict[str, Any]]:
    """OpenAI / Anthropic message content (a string or a list of blocks) as conventions parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    if not isinstance(content, (list, tuple)):
        return [text_part(content)]
    parts: list[dict[str, Any]] = []
    for block in content:
        block = _plain(block)
        kind = _get(block, "type")
        if isinstance(block, str):
            parts.append(text_part(block))
        elif kind in ("text", "input_text", "output_text"):
            parts.append(text_part(_get(block, "text", "")))
        elif kind == "image_url":
            url = _get(_get(block, "image_url", {}) or {}, "url")
            parts.append({"type": "uri", "modality": "image", "uri": str(url)})
        elif kind == "tool_use":  # Anthropic
            parts.append({"type": "tool_call", "id": _get(block, "id"), "name": _get(block, "name"), "arguments": _get(block, "input")})
        elif kind == "tool_result":  # Anthropic
            parts.append({"type": "tool_call_response", "id": _get(block, "tool_use_id"), "response": _get(block, "content")})
        elif kind in ("thinking", "reasoning"):
            parts.append({"type": "reasoning", "content": _get(block, "thinking") or _get(block, "text") or ""})
        else:
            parts.append({"type": str(kind or "generic"), "content": render(block)})
    return parts


def _tool_call_parts(tool_calls: Any) -> list[dict[str, Any]]:
    parts = []
    for call in tool_calls or []:
        call = _plain(call)
        fn = _get(call, "function", {}) or {}
        parts.append({"type": "tool_call", "id": _get(call, "id"), "name": _get(fn, "name"), "arguments": parse_arguments(_get(fn, "arguments"))})
    return parts


def input_messages(messages: Any) -> list[dict[str, Any]]:
    """Chat messages (OpenAI or Anthropic shapes, dicts or SDK objects) as gen-ai-input-messages.json."""
    out = []
    for msg in messages or []:
        msg = _plain(msg)
        if isinstance(msg, str):
            out.append({"role": "user", "parts": [text_part(msg)]})
            continue
        role = str(_get(msg, "role") or "user")
        if role == "tool" or role == "function":
            out.append({"role": "tool", "parts": [{"type": "tool_call_response", "id": _get(msg, "tool_call_id"), "response": _get(msg, "content")}]})
            continue
        if role == "developer":
            role = "system"
        parts = _content_parts(_get(msg, "content")) + _tool_call_parts(_get(msg, "tool_calls"))
        entry: dict[str, Any] = {"role": role, "parts": parts}
        if _get(msg, "name"):
            entry["name"] = str(_get(msg, "name"))
        out.append(entry)
    return out


def system_instructions(system: Any) -> list[dict[str, Any]] | None:
    """A separate system prompt (Anthropic's `system=`) as gen-ai-system-instructions.json."""
    if not system:
        return None
    return _content_parts(system)


def tool_definitions(tools: Any) -> list[dict[str, Any]] | None:
    """Tool definitions (OpenAI `tools=[{type: function, function: {...}}]` or Anthropic `tools=[{name, input_schema}]`)."""
    if not tools:
        return None
    out = []
    for tool in tools:
        tool = _plain(tool)
        fn = _get(tool, "function")
        if fn:
            out.append({"type": "function", "name": _get(fn, "name"), "description": _get(fn, "description"), "parameters": _get(fn, "parameters")})
        else:
            out.append({"type": "function", "name": _get(tool, "name"), "description": _get(tool, "description"), "parameters": _get(tool, "input_schema")})
    return [{k: v for k, v in t.items() if v is not None} for t in out]


def output_message(parts: list[dict[str, Any]], finish_reason: Any) -> dict[str, Any]:
    return {"role": "assistant", "parts": parts, "finish_reason": str(finish_reason or "stop")}


def openai_output_messages(choices: Any) -> list[dict[str, Any]]:
    out = []
    for choice in choices or []:
        msg = _get(choice, "message")
        parts = _content_parts(_get(msg, "content")) + _tool_call_parts(_get(msg, "tool_calls"))
        out.append(output_message(parts, _get(choice, "finish_reason")))
    return out


def anthropic_output_messages(message: Any) -> list[dict[str, Any]]:
    return [output_message(_content_parts(_get(message, "content")), _get(message, "stop_reason"))]


def input_messages_from_arguments(bound: Any) -> list[dict[str, Any]]:
    """What an `@llm` function was called with, as input messages: its `messages`, its prompt, or its arguments as text."""
    if isinstance(bound, dict):
        if isinstance(bound.get("messages"), (list, tuple)):
            return input_messages(bound["messages"])
        for key in ("prompt", "query", "question", "text", "input"):
            if isinstance(bound.get(key), str):
                return [{"role": "user", "parts": [text_part(bound[key])]}]
        strings = [v for v in bound.values() if isinstance(v, str)]
        if len(bound) == 1 and len(strings) == 1:
            return [{"role": "user", "parts": [text_part(strings[0])]}]
    return [{"role": "user", "parts": [text_part(bound)]}]


def output_messages_from_result(result: Any) -> list[dict[str, Any]]:
    """What an `@llm` function returned, as output messages (a string, a chat message, an OpenAI or Anthropic response)."""
    if result is None:
        return []
    if isinstance(result, str):
        return [output_message([text_part(result)], "stop")]
    if _get(result, "choices") is not None:
        return openai_output_messages(_get(result, "choices"))
    if isinstance(_get(result, "content"), list) and _get(result, "stop_reason", "") != "":
        return anthropic_output_messages(result)
    plain = _plain(result)
    if isinstance(plain, dict) and "role" in plain and "content" in plain:
        msg = input_messages([plain])[0]
        return [output_message(msg["parts"], plain.get("finish_reason"))]
    return [output_message([text_part(result)], "stop")]


def wanted() -> bool:
    """Whether model-call content is recorded anywhere (span or event): converters run only then."""
    pol = policy()
    return pol.capture or pol.on_event
