"""Fixtures both MCP test modules share: the conversation processor configure() installs, and an
MCPInstrumentor on the test providers (imported lazily: the modules skip without `mcp`)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module", autouse=True)
def _conversation_processor(_otel_session):  # type: ignore[no-untyped-def]
    from agent_otel.conversation import ConversationSpanProcessor

    _otel_session.tracer_provider.add_span_processor(ConversationSpanProcessor())  # as configure() installs it


@pytest.fixture
def instrumented(otel):  # type: ignore[no-untyped-def]
    from agent_otel.instrumentation.mcp import MCPInstrumentor

    inst = MCPInstrumentor()
    inst.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    yield otel
    inst.uninstrument()
