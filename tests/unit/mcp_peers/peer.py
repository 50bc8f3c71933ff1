"""An MCP server or client process for the two-process tests (tests/unit/mcp_peers/test_mcp_traces.py).

    python peer.py server stdio|http --out FILE --mode agent-otel|bare [--port N]
    python peer.py client stdio|http --out FILE --mode bare --target URL-or-server-args

Mode agent-otel: the process's spans go to FILE (one JSON object per line, as each span ends)
through an SDK provider with agent-otel's conversation processor and the MCP instrumentor on
explicit providers; its metrics are written to FILE.metrics at exit. Mode bare: no OpenTelemetry
SDK at all (the `mcp` SDK's own spans are no-ops, nothing is injected or extracted).
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


def _telemetry(out: str) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    from agent_otel.conversation import ConversationSpanProcessor
    from agent_otel.instrumentation.mcp import MCPInstrumentor

    class Lines(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            with open(out, "a") as f:
                for s in spans:
                    f.write(json.dumps({
                        "name": s.name, "kind": s.kind.name, "trace_id": format(s.context.trace_id, "032x"),
                        "span_id": format(s.context.span_id, "016x"), "parent_id": format(s.parent.span_id, "016x") if s.parent else None,
                        "attributes": dict(s.attributes or {}), "status": s.status.status_code.name,
                    }, default=str) + "\n")
            return SpanExportResult.SUCCESS

    tp = TracerProvider()
    tp.add_span_processor(ConversationSpanProcessor())
    tp.add_span_processor(SimpleSpanProcessor(Lines()))
    trace.set_tracer_provider(tp)  # the tool's own @agent_otel spans
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    MCPInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)

    def dump() -> None:
        data = reader.get_metrics_data()
        points = [{"name": m.name, "unit": m.unit, "attributes": dict(p.attributes), "count": p.count, "bounds": list(p.explicit_bounds)}
                  for rm in (data.resource_metrics if data else ()) for sm in rm.scope_metrics for m in sm.metrics for p in m.data.data_points]
        with open(out + ".metrics", "w") as f:
            json.dump(points, f)

    atexit.register(dump)


MCP_V1 = not importlib.util.find_spec("mcp.shared._otel")  # mcp 1.x (FastMCP, ClientSession) vs 2.x (MCPServer, Client)


@asynccontextmanager
async def connect(server_ref: Any) -> AsyncIterator[Any]:
    """An MCP client session on a URL or StdioServerParameters, whichever SDK major is installed."""
    if not MCP_V1:
        from mcp import Client

        async with Client(server_ref) as client:
            yield client
        return
    from mcp import ClientSession

    if isinstance(server_ref, str):
        from mcp.client.streamable_http import streamablehttp_client

        transport = streamablehttp_client(server_ref)
    else:
        from mcp.client.stdio import stdio_client

        transport = stdio_client(server_ref)
    async with transport as streams, ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        yield session


def server(transport: str, port: int) -> None:
    import agent_otel

    if MCP_V1:
        from mcp.server.fastmcp import FastMCP

        app = FastMCP("peer", host="127.0.0.1", port=port or 8000)
    else:
        from mcp.server.mcpserver import MCPServer

        app = MCPServer("peer")

    @app.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        with agent_otel.step("sum"):  # the server's own work: a child of its tools/call span
            return a + b

    @app.tool()
    def fail() -> str:
        """Always fails."""
        raise RuntimeError("tool broke")

    if transport == "stdio":
        app.run("stdio")
    elif MCP_V1:
        app.run("streamable-http")
    else:
        app.run("streamable-http", host="127.0.0.1", port=port)


async def client(transport: str, target: str) -> None:
    from mcp import StdioServerParameters

    server_ref = target if transport == "http" else StdioServerParameters(command=sys.executable, args=json.loads(target), env=dict(os.environ))
    async with connect(server_ref) as c:
        result = await c.call_tool("add", {"a": 2, "b": 3})
        print(json.dumps({"result": [getattr(x, "text", None) for x in result.content]}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("transport", choices=["stdio", "http"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", choices=["agent-otel", "bare"], required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--target", default="")
    args = ap.parse_args()
    if args.mode == "agent-otel":
        _telemetry(args.out)
    if args.role == "server":
        server(args.transport, args.port)
    else:
        import anyio

        anyio.run(client, args.transport, args.target)


if __name__ == "__main__":
    main()
