"""MCP spans and metrics against the conventions' own model (model/mcp, vendored under model/mcp/, see
model/VERSIONS): the four metrics' names, units, instruments, bucket advice and attribute sets, the
span types' kinds and required / conditionally required attributes.

A real `mcp` client and server in one process over the SDK's in-memory transport (2.x: the handshake
era, so both sides run their JSON-RPC loops; the same test runs on mcp 1.x): a tool call, a prompt, a session that ends by the user's
exception and a server session that ends by a handler's exception. Transport attributes over stdio
and HTTP are checked across two processes in tests/unit/mcp_peers/test_mcp_traces.py.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

import anyio  # noqa: E402
import yaml  # noqa: E402
from opentelemetry.sdk.metrics.export import HistogramDataPoint  # noqa: E402

from agent_otel.instrumentation.mcp import MCPInstrumentor  # noqa: E402

MODEL = Path(__file__).parent / "model" / "mcp"
DOCS = {name: yaml.safe_load((MODEL / f"{name}.yaml").read_text()) for name in ("common", "metrics", "spans")}
GROUPS = {g["id"]: g for doc in DOCS.values() for g in doc.get("attribute_groups", [])}
METRICS = {m["name"]: m for m in DOCS["metrics"]["metrics"]}
SPANS = {s["kind"]: s for s in DOCS["spans"]["spans"]}
# docs/gen-ai/mcp.md: ExplicitBucketBoundaries advised for each of the four metrics.
BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]
# docs/gen-ai/mcp.md (1e01e830) lists these for the session metrics too; metrics.yaml (14567fad) does not.
SESSION_DOC_EXTRA = {"network.transport", "network.protocol.version"}


def resolve(attributes: list[dict[str, Any]]) -> dict[str, Any]:
    """attribute key -> requirement level, ref_groups expanded (later entries refine earlier ones)."""
    out: dict[str, Any] = {}
    for entry in attributes:
        if "ref_group" in entry:
            out.update(resolve(GROUPS[entry["ref_group"]]["attributes"]))
        else:
            out[entry["ref"]] = entry.get("requirement_level", "recommended")
    return out


MCP_V1 = importlib.util.find_spec("mcp.shared._otel") is None  # mcp 1.x: agent-otel starts the spans itself


def _connect(server: Any, raise_exceptions: bool = False) -> Any:
    """A client session on an in-process server (2.x: `Client` in the handshake era; 1.x: the memory transport)."""
    if MCP_V1:
        from mcp.shared.memory import create_connected_server_and_client_session

        return create_connected_server_and_client_session(getattr(server, "_mcp_server", server), raise_exceptions=raise_exceptions)
    from mcp import Client

    return Client(server, mode="legacy", raise_exceptions=raise_exceptions)


def _apps() -> tuple[Any, Any]:
    """(a FastMCP-style server, a low-level server whose tools/call handler raises)."""

    async def broken(*args: Any) -> Any:
        raise RuntimeError("handler broke")

    if MCP_V1:
        from mcp import types
        from mcp.server.fastmcp import FastMCP
        from mcp.server.lowlevel import Server

        low = Server("low")
        low.request_handlers[types.CallToolRequest] = broken
        return FastMCP("conform"), low
    from mcp.server import Server
    from mcp.server.mcpserver import MCPServer

    return MCPServer("conform"), Server("low", on_call_tool=broken)


async def _scenario() -> None:
    app, low = _apps()

    @app.tool()
    def add(a: int, b: int) -> int:
        return a + b

    @app.prompt()
    def review(code: str) -> str:
        return f"Review {code}"

    async with _connect(app) as client:
        assert (await client.call_tool("add", {"a": 1, "b": 2})).content[0].text == "3"
        await client.get_prompt("review", {"code": "x = 1"})
    with pytest.raises(BaseException) as user_error:  # the SDK's task group wraps it
        async with _connect(app):
            raise LookupError("user code failed inside the session")
    assert "LookupError" in repr(user_error.value)
    with pytest.raises(BaseException), anyio.fail_after(20):  # raise_exceptions: the handler's error ends the server's loop
        async with _connect(low, raise_exceptions=True) as client:
            await client.call_tool("x", {})


@pytest.fixture
def recorded(providers):  # type: ignore[no-untyped-def]
    inst = MCPInstrumentor()
    inst.instrument(tracer_provider=providers.tracer_provider, meter_provider=providers.meter_provider)
    try:
        anyio.run(_scenario)
    finally:
        inst.uninstrument()
    return providers


def test_mcp_metrics_match_the_model(recorded):  # type: ignore[no-untyped-def]
    got = recorded.metrics()
    assert set(METRICS) <= set(got), f"missing {set(METRICS) - set(got)}"
    for name, spec in METRICS.items():
        metric, scope = got[name]
        assert scope.name == "agent_otel" and spec["instrument"] == "histogram" and metric.unit == spec["unit"] == "s", name
        allowed = resolve(spec["attributes"])
        if ".session." in name:
            allowed.update(dict.fromkeys(SESSION_DOC_EXTRA, "recommended"))
        required = {k for k, level in allowed.items() if level == "required"}
        points = metric.data.data_points
        assert points and all(isinstance(p, HistogramDataPoint) for p in points), name
        for p in points:
            assert [float(b) for b in p.explicit_bounds] == [float(b) for b in BUCKETS], name
            keys = set(p.attributes)
            assert keys <= set(allowed), f"{name}: {keys - set(allowed)} not in the model"
            assert required <= keys, f"{name}: required {required - keys} missing"
    def ended(metric: str) -> Counter[str]:
        """error.type ("" for none) -> how many sessions ended so (points with equal attributes aggregate)."""
        points = got[metric][0].data.data_points
        assert all(p.attributes["mcp.protocol.version"] for p in points), metric
        return Counter({p.attributes.get("error.type", ""): 0 for p in points}) + Counter(
            {t: sum(p.count for p in points if p.attributes.get("error.type", "") == t) for t in {p.attributes.get("error.type", "") for p in points}})

    # error.type if and only if the session ended with an error
    connection_lost = "McpError" if MCP_V1 else "MCPError"  # the SDK's error class for the closed connection
    assert ended("mcp.client.session.duration") == Counter({"": 1, "LookupError": 1, connection_lost: 1})
    assert ended("mcp.server.session.duration") == Counter({"": 2, "RuntimeError": 1})
    ops = {(p.attributes["mcp.method.name"], p.attributes.get("gen_ai.tool.name"), p.attributes.get("gen_ai.prompt.name"))
           for p in got["mcp.client.operation.duration"][0].data.data_points}
    assert {("tools/call", "add", None), ("prompts/get", None, "review")} <= ops


def test_mcp_spans_meet_the_models_requirement_levels(recorded):  # type: ignore[no-untyped-def]
    spans = [s for s in recorded.spans() if "mcp.method.name" in (s.attributes or {})]
    assert {s.kind.name for s in spans} == {"CLIENT", "SERVER"}
    for span in spans:
        spec = SPANS[span.kind.name.lower()]
        levels = resolve(spec["attributes"])
        a = span.attributes
        method = a["mcp.method.name"]
        target = span.name[len(method) + 1:] if span.name != method else None
        assert span.name in (method, f"{method} {target}"), span.name
        assert {k for k, lvl in levels.items() if lvl == "required"} <= set(a), span.name
        conditions = {
            "jsonrpc.request.id": not method.startswith("notifications/"),
            "gen_ai.tool.name": method == "tools/call" and target is not None,
            "gen_ai.prompt.name": method == "prompts/get",
            "error.type": span.status.status_code.name == "ERROR",
        }
        for key, holds in conditions.items():
            assert isinstance(levels[key], dict) and "conditionally_required" in levels[key], key
            if holds:
                assert key in a, f"{span.name} ({span.kind.name}): conditionally required {key} missing"
        if method == "tools/call":
            assert a["gen_ai.operation.name"] == "execute_tool"
        else:
            assert "gen_ai.operation.name" not in a, f"{span.name}: execute_tool only on tool calls"
