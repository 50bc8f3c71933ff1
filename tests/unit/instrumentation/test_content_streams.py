"""Opt-in content of streamed client calls, in the conventions' shapes (the official Anthropic instrumentation, enabled by agent-otel)."""

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
    from agent_otel.instrumentation import instrument, uninstrument
    mode_env("span_only")
    instrument(["anthropic"])
    try:
        with FakeProvider(anthropic_answer) as server:
            client = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
            with client.messages.create(model="claude-sonnet-4", max_tokens=5, system="be brief", stream=True,
                                        messages=[{"role": "user", "content": "hi"}]) as stream:
                list(stream)
    finally:
        uninstrument(["anthropic"])
    attrs = otel.span("chat claude-sonnet-4").attributes
    assert json.loads(attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "be brief"}]
    (message,) = json.loads(attrs[semconv.GEN_AI_OUTPUT_MESSAGES])
    assert (message["role"], message["parts"]) == ("assistant", [{"type": "text", "content": "Hi"}])
    assert message["finish_reason"] == "length"  # Anthropic's max_tokens in the conventions' vocabulary
