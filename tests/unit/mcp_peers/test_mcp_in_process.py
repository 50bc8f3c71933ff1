"""MCP client and server in one process, on either SDK major (2.x, or 1.x where agent-otel starts the spans).

A notification sent inside a span reaches the server with the trace context and baggage in
`params._meta` (the SDKs inject into requests only, and 1.x into nothing): the server's span for it
is the sender's child and the handler's work sees the conversation. (On 2.x in memory the SDK also
hands the sender's contextvars to the handler, so there the two-process tests and the dispatcher test
in test_mcp_traces.py are what prove `_meta`; on 1.x the server task has no other way to get it.)
"""

from __future__ import annotations

import pytest

pytest.importorskip("mcp")

import agent_otel  # noqa: E402

from mcp_peers.peer import MCP_V1  # noqa: E402




def _session(app):  # type: ignore[no-untyped-def]
    if MCP_V1:
        from mcp.shared.memory import create_connected_server_and_client_session

        return create_connected_server_and_client_session(app._mcp_server)
    from mcp import Client

    return Client(app, mode="legacy")


def _app():  # type: ignore[no-untyped-def]
    if MCP_V1:
        from mcp.server.fastmcp import FastMCP

        return FastMCP("in-process")
    from mcp.server.mcpserver import MCPServer

    return MCPServer("in-process")


async def test_notification_carries_the_trace_context_and_baggage_to_the_server(instrumented):  # type: ignore[no-untyped-def]
    import anyio

    async with _session(_app()) as client:
        session = client if MCP_V1 else client.session
        with agent_otel.conversation("conv-n"), agent_otel.step("roots-changed") as sender:
            await session.send_roots_list_changed()
        with anyio.fail_after(5):
            while not [s for s in instrumented.spans() if s.name == "notifications/roots/list_changed"]:
                await anyio.sleep(0.01)
    served = instrumented.span("notifications/roots/list_changed")
    assert served.kind.name == "SERVER" and served.attributes["mcp.method.name"] == "notifications/roots/list_changed"
    assert served.context.trace_id == sender.get_span_context().trace_id
    assert served.parent.span_id == sender.get_span_context().span_id  # extracted from params._meta
    assert served.attributes["gen_ai.conversation.id"] == "conv-n"  # the baggage travelled with it
