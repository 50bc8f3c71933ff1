"""MCP across two processes, over stdio and streamable HTTP on 127.0.0.1: one trace, the conventions' spans.

The server is a real `mcp` MCPServer in a subprocess (tests/unit/mcp_peers/peer.py); the client runs here
(or, uninstrumented, in a subprocess too). Each side is tried instrumented by agent-otel and bare
(no OpenTelemetry SDK at all), which must still interoperate.

Each test starts one or two Python processes that import the `mcp` SDK (about 1.5 s of CPU each):
the both-sides tests and the no-duplicate test run in the fast suite; the one-side-alone tests,
which add a process each, are marked `stack` so they run in the full suite (`python -m pytest`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mcp")

import agent_otel  # noqa: E402

from mcp_peers.peer import MCP_V1, connect  # noqa: E402

PEER = str(Path(__file__).with_name("peer.py"))
SRC = str(Path(__file__).resolve().parents[3] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}




def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http_server(tmp_path_factory, mode: str):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("mcp") / f"server-{mode}.jsonl"
    port = _free_port()
    proc = subprocess.Popen([sys.executable, PEER, "server", "http", "--port", str(port), "--out", str(out), "--mode", mode],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"MCP HTTP server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}/mcp", out


@pytest.fixture(scope="module")
def http_server(tmp_path_factory):  # type: ignore[no-untyped-def]
    proc, url, out = _http_server(tmp_path_factory, "agent-otel")
    yield url, out
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def bare_http_server(tmp_path_factory):  # type: ignore[no-untyped-def]
    proc, url, out = _http_server(tmp_path_factory, "bare")
    yield url, out
    proc.terminate()
    proc.wait(10)


def _read_spans(path: Path, want: str, timeout: float = 10.0) -> list[dict]:
    """The server's spans once one named `want` is written (spans are written as they end)."""
    deadline = time.monotonic() + timeout
    while True:
        spans = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        if any(s["name"] == want for s in spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.05)


def _stdio(out: Path, mode: str) -> object:
    from mcp import StdioServerParameters

    return StdioServerParameters(command=sys.executable, args=[PEER, "server", "stdio", "--out", str(out), "--mode", mode], env=ENV)


async def _call_as_agent(server: object) -> str:
    @agent_otel.agent(name="planner")
    async def planner() -> str:
        async with connect(server) as client:
            result = await client.call_tool("add", {"a": 2, "b": 3})
            return result.content[0].text

    with agent_otel.conversation("conv-mcp", user_id="u-1"):
        return await planner()


def _assert_one_trace(otel, server_spans: list[dict], transport: str, port: int | None = None) -> None:  # type: ignore[no-untyped-def]
    agent = otel.span("invoke_agent planner")
    call = otel.span("tools/call add")  # the conventions' name, not the SDK's "MCP send tools/call add"
    a = call.attributes
    assert a["network.transport"] == transport and a["mcp.protocol.version"]
    if transport == "tcp":  # the client knows the server's address from the URL
        assert (a["server.address"], a["server.port"], a["network.protocol.name"]) == ("127.0.0.1", port, "http")
    else:
        assert "server.address" not in a and "network.protocol.name" not in a
    assert call.parent.span_id == agent.context.span_id
    assert a["gen_ai.operation.name"] == "execute_tool" and a["gen_ai.tool.name"] == "add" and a["gen_ai.agent.name"] == "planner"
    assert a["mcp.method.name"] == "tools/call" and a["gen_ai.conversation.id"] == "conv-mcp"
    trace_id = format(agent.context.trace_id, "032x")
    served = next(s for s in server_spans if s["name"] == "tools/call add")
    assert served["kind"] == "SERVER" and served["trace_id"] == trace_id
    assert served["parent_id"] == format(call.context.span_id, "016x")  # the server's handling is the client call's child
    assert served["attributes"]["network.transport"] == transport
    assert served["attributes"]["gen_ai.conversation.id"] == "conv-mcp"  # baggage in params._meta
    step = next(s for s in server_spans if s["name"] == "sum")  # the tool's own work, in the server process
    assert step["trace_id"] == trace_id and step["parent_id"] == served["span_id"]
    assert step["attributes"]["gen_ai.conversation.id"] == "conv-mcp"
    assert {s["trace_id"] for s in server_spans} == {trace_id}
    recorded = otel.metrics()  # (delta: once)
    points = [p for p in recorded.get("mcp.client.operation.duration", []) if p.attributes.get("mcp.method.name") == "tools/call"]
    assert points and points[0].attributes["gen_ai.tool.name"] == "add" and points[0].attributes["network.transport"] == transport
    sessions = recorded.get("mcp.client.session.duration", [])  # the Client has exited: its session ended
    assert len(sessions) == 1 and sessions[0].count == 1 and "error.type" not in sessions[0].attributes
    assert sessions[0].attributes["network.transport"] == transport and sessions[0].attributes["mcp.protocol.version"]
    if transport == "tcp":
        assert (sessions[0].attributes["server.address"], sessions[0].attributes["server.port"]) == ("127.0.0.1", port)


async def test_stdio_both_sides_instrumented_one_trace(instrumented, tmp_path):  # type: ignore[no-untyped-def]
    out = tmp_path / "server.jsonl"
    assert await _call_as_agent(_stdio(out, "agent-otel")) == "5"
    _assert_one_trace(instrumented, _read_spans(out, "tools/call add"), "pipe")
    import mcp.client.stdio

    if not hasattr(mcp.client.stdio, "PROCESS_TERMINATION_TIMEOUT"):
        return  # an old 1.x stdio_client (1.9) SIGTERMs the server at once: its exit hook, which writes the metrics, never runs
    server_metrics = json.loads(Path(str(out) + ".metrics").read_text())  # written when the server exits
    assert any(p["name"] == "mcp.server.operation.duration" and p["attributes"].get("gen_ai.tool.name") == "add" for p in server_metrics)
    # The stdio connection was the server's session: it ended when the client closed the pipe.
    [session] = [p for p in server_metrics if p["name"] == "mcp.server.session.duration"]
    assert session["count"] == 1 and session["unit"] == "s" and session["attributes"]["network.transport"] == "pipe"
    assert session["attributes"]["mcp.protocol.version"] and "error.type" not in session["attributes"]
    assert session["bounds"] == [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]


async def test_http_both_sides_instrumented_one_trace(instrumented, http_server):  # type: ignore[no-untyped-def]
    url, out = http_server
    assert await _call_as_agent(url) == "5"
    spans = [s for s in _read_spans(out, "tools/call add") if s["trace_id"] == format(instrumented.span("invoke_agent planner").context.trace_id, "032x")]
    _assert_one_trace(instrumented, spans, "tcp", port=int(url.rsplit(":", 1)[1].split("/")[0]))
    served = next(s for s in spans if s["name"] == "tools/call add")["attributes"]
    assert (served["network.protocol.name"], served["network.protocol.version"]) == ("http", "1.1")  # (protocol 2026-07-28 has no session id)
    assert served["client.address"] == "127.0.0.1" and isinstance(served["client.port"], int) and "server.address" not in served


@pytest.mark.stack
@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_instrumented_client_uninstrumented_server(instrumented, transport, tmp_path, request):  # type: ignore[no-untyped-def]
    out = tmp_path / "server.jsonl"
    server = _stdio(out, "bare") if transport == "stdio" else request.getfixturevalue("bare_http_server")[0]
    assert await _call_as_agent(server) == "5"  # the _meta it carries is no trouble to a server that ignores it
    call = instrumented.span("tools/call add")
    assert call.parent.span_id == instrumented.span("invoke_agent planner").context.span_id
    assert not out.exists()


@pytest.mark.stack
@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_uninstrumented_client_instrumented_server(transport, tmp_path, request):  # type: ignore[no-untyped-def]
    if transport == "stdio":
        out = tmp_path / "server.jsonl"
        target = json.dumps([PEER, "server", "stdio", "--out", str(out), "--mode", "agent-otel"])
    else:
        target, out = request.getfixturevalue("http_server")
        before = len(out.read_text().splitlines()) if out.exists() else 0
    done = subprocess.run([sys.executable, PEER, "client", transport, "--target", target, "--out", str(tmp_path / "client.jsonl"), "--mode", "bare"],
                          env=ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["result"] == ["5"]
    spans = _read_spans(out, "tools/call add")
    if transport == "http":
        spans = spans[before:]
    served = [s for s in spans if s["name"] == "tools/call add"]
    assert len(served) == 1 and served[0]["kind"] == "SERVER" and served[0]["parent_id"] is None  # a root: no context came
    assert served[0]["attributes"]["gen_ai.tool.name"] == "add"
    assert not (tmp_path / "client.jsonl").exists()


async def test_tool_span_of_the_caller_is_reused_not_duplicated(instrumented, tmp_path):  # type: ignore[no-untyped-def]
    """Inside an agent-otel `@tool` of the same name, the MCP call adds its attributes to that span (conventions)."""
    out = tmp_path / "server.jsonl"

    @agent_otel.tool(name="add")
    async def add_via_mcp(client) -> str:  # type: ignore[no-untyped-def]
        return (await client.call_tool("add", {"a": 1, "b": 1})).content[0].text

    async with connect(_stdio(out, "agent-otel")) as client:
        assert await add_via_mcp(client) == "2"
    tools = [s for s in instrumented.spans() if s.attributes.get("gen_ai.tool.name") == "add"]
    assert [s.name for s in tools] == ["execute_tool add"]
    assert tools[0].attributes["mcp.method.name"] == "tools/call"
    served = next(s for s in _read_spans(out, "tools/call add") if s["name"] == "tools/call add")
    assert served["parent_id"] == format(tools[0].context.span_id, "016x")


@pytest.mark.skipif(MCP_V1, reason="JSONRPCDispatcher is mcp 2.x (both majors: test_mcp_in_process.py)")
async def test_notifications_carry_the_trace_context_and_baggage(instrumented):  # type: ignore[no-untyped-def]
    """The SDK injects into requests only; a notification sent inside a span gets traceparent and baggage in params._meta."""
    from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher

    sent = []

    class Dispatcher(JSONRPCDispatcher):  # only `notify` is exercised: record what would go on the wire
        def __init__(self) -> None:
            self._closed = False

        async def _write(self, message, metadata=None):  # type: ignore[no-untyped-def]
            sent.append(message)

    with agent_otel.conversation("conv-n"), agent_otel.step("progress") as span:
        await Dispatcher().notify("notifications/progress", {"progressToken": 1, "progress": 0.5, "_meta": {"keep": 1}})
        await Dispatcher().notify("notifications/initialized", None)
    meta = sent[0].params["_meta"]
    assert meta["keep"] == 1 and sent[0].params["progress"] == 0.5
    assert meta["traceparent"].split("-")[1] == format(span.get_span_context().trace_id, "032x")
    assert "gen_ai.conversation.id=conv-n" in meta["baggage"]
    assert sent[1].params["_meta"]["traceparent"] == meta["traceparent"]
