"""Content capture read as opentelemetry-util-genai reads it, recorded in the conventions' shapes, made safe."""

from __future__ import annotations

import json
import logging

import pytest

import agent_otel
from agent_otel import content, semconv


@pytest.fixture
def mode_env(monkeypatch):
    def set_mode(value: str | None, emit: str | None = None) -> None:
        for name, v in ((semconv.ENV_CAPTURE_CONTENT, value), (semconv.ENV_EMIT_EVENT, emit)):
            if v is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, v)
        monkeypatch.delenv(semconv.ENV_AGENT_OTEL_CAPTURE_CONTENT, raising=False)
        content.set_policy(None)

    yield set_mode
    content.set_policy(None)


@pytest.mark.parametrize(("value", "emit", "expected"), [
    (None, None, (False, False, False)),
    ("span_only", None, (True, False, False)),
    ("SPAN_ONLY", None, (True, False, False)),
    ("event_only", None, (False, True, True)),
    ("span_and_event", None, (True, True, True)),
    ("no_content", None, (False, False, False)),
    ("true", None, (True, False, False)),
    ("false", None, (False, False, False)),
    ("no_content", "true", (False, False, True)),
    ("span_and_event", "false", (True, True, False)),
])
def test_modes_as_util_genai_reads_them(mode_env, value, emit, expected):
    mode_env(value, emit)
    pol = content.policy()
    assert (pol.on_span, pol.on_event, pol.events) == expected


def test_unknown_value_is_warned_once_and_captures_nothing(mode_env, caplog):
    content._warned.discard(semconv.ENV_CAPTURE_CONTENT)
    mode_env("everything")
    with caplog.at_level(logging.WARNING, logger="agent_otel"):
        assert not content.policy().capture
        content.set_policy(None)
        assert not content.policy().capture
    assert sum("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT" in r.getMessage() for r in caplog.records) == 1


def test_llm_messages_in_the_conventions_shape_redacted_and_truncated(otel, mode_env, monkeypatch):
    monkeypatch.setenv(semconv.ENV_MAX_CONTENT_LENGTH, "60")
    mode_env("span_only")

    @agent_otel.llm(model="gpt-4o")
    def chat(messages):
        return {"role": "assistant", "content": "use token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "tool_calls": [
            {"id": "c1", "function": {"name": "lookup", "arguments": '{"q": "sk-abcdefghijklmnopqrstuvwxyz"}'}}]}

    chat([{"role": "system", "content": "be brief"}, {"role": "user", "content": "my key is sk-abcdefghijklmnopqrstuvwxyz " + "x" * 200}])
    attrs = otel.span("chat gpt-4o").attributes
    inp = json.loads(attrs[semconv.GEN_AI_INPUT_MESSAGES])  # still valid JSON after truncation
    assert [m["role"] for m in inp] == ["system", "user"]
    user_text = inp[1]["parts"][0]["content"]
    assert "sk-abc" not in user_text and content.REDACTED in user_text and len(user_text) <= 60
    out = json.loads(attrs[semconv.GEN_AI_OUTPUT_MESSAGES])
    assert out[0]["role"] == "assistant" and out[0]["parts"][0] == {"type": "text", "content": f"use token {content.REDACTED}"}
    assert out[0]["parts"][1]["type"] == "tool_call" and "sk-abc" not in json.dumps(out[0]["parts"][1]["arguments"])


def test_event_only_puts_content_in_the_details_event_not_on_the_span(otel, mode_env):
    mode_env("event_only")

    @agent_otel.llm(model="gpt-4o", provider="openai")
    def chat(prompt):
        return "hi"

    chat("hello")
    span = otel.span("chat gpt-4o")
    assert semconv.GEN_AI_INPUT_MESSAGES not in span.attributes
    (event,) = [r for r in otel.logs() if r.event_name == semconv.EVENT_INFERENCE_DETAILS]
    assert event.span_id == span.context.span_id
    assert event.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert json.loads(json.dumps(event.attributes[semconv.GEN_AI_INPUT_MESSAGES], default=list)) == [
        {"role": "user", "parts": [{"type": "text", "content": "hello"}]}]


def test_no_event_by_default(otel, mode_env):
    mode_env(None)
    agent_otel.llm(model="gpt-4o")(lambda: "x")()
    assert not [r for r in otel.logs() if r.event_name == semconv.EVENT_INFERENCE_DETAILS]
