"""Opt-in content of streamed client calls, in the conventions' shapes."""

from __future__ import annotations

import json

import anthropic
import pytest

from agent_otel import content, semconv

from .fake_providers import FakeProvider, anthropic_answer


@pytest.fixture
def mode_env(monkeypatch):
    def set_mode(value: str) -> None:
        monkeypatch.setenv(semconv.ENV_CAPTURE_CONTENT, value)
        content.set_policy(None)

    yield set_mode
    content.set_policy(None)


def test_anthropic_stream_records_output_and_system_instructions(otel, mode_env):
    from agent_otel.instrumentation.anthropic import AnthropicInstrumentor
    mode_env("span_only")
    inst = AnthropicInstrumentor()
    inst.instrument()
    try:
        with FakeProvider(anthropic_answer) as server:
            client = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
            with client.messages.create(model="claude-sonnet-4", max_tokens=5, system="be brief", stream=True,
                                        messages=[{"role": "user", "content": "hi"}]) as stream:
                list(stream)
    finally:
        inst.uninstrument()
    attrs = otel.span("chat claude-sonnet-4").attributes
    assert json.loads(attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "be brief"}]
    assert json.loads(attrs[semconv.GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hi"}], "finish_reason": "max_tokens"}]
