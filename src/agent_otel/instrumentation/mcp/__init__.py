"""MCP (`mcp` Python SDK 2.x): MCP client and server spans and metrics to the conventions, context everywhere.

What the SDK (2.3) does itself, and is kept: a CLIENT span per request it sends, the W3C trace
context (and baggage: it calls the global propagator) injected into the request's `params._meta`,
and a SERVER span per inbound message parented on the context extracted from `_meta`. Both come
from one helper, `mcp.shared._otel.otel_span`, on the global tracer provider. What it lacks, and
this instrumentor adds by wrapping that helper where the SDK imported it (a `wrapt` wrapper, the
same spans just named and attributed as model/mcp of semantic-conventions-genai says):
- span names `{mcp.method.name} {target}` on the client too (the SDK names them `MCP send ...`);
- a `tools/call` from the client is an `execute_tool` span under the calling agent:
  `gen_ai.operation.name`, `gen_ai.tool.name`, `gen_ai.agent.name`, `agent_otel.kind=tool`;
  inside an agent-otel `@tool` of the same name no second span is made, the MCP attributes go on
  that tool span (the conventions' "SHOULD NOT create a separate span");
- `gen_ai.prompt.name` on `prompts/get`; `network.transport` (`pipe` for stdio, `tcp` for HTTP),
  `network.protocol.name` on both sides, `server.address`/`server.port` and the negotiated
  `mcp.protocol.version` on client spans, `network.protocol.version`, `client.address`/`client.port`
  and `mcp.session.id` on server spans (HTTP); the connection records live in `sessions.py`;
- the metrics `mcp.client.operation.duration`, `mcp.server.operation.duration`,
  `mcp.client.session.duration` and `mcp.server.session.duration` (s, the conventions' buckets);
- the peer's extracted context made current while a message is served, so its baggage (the
  conversation id) reaches the handler's own spans (the SDK uses it only as its span's parent);
- the trace context in `params._meta` of notifications too (the SDK injects into requests only);
- the tracer and meter providers given to `instrument(...)` (the SDK uses the global ones).
Nothing changes on the wire but `_meta` of notifications, so an uninstrumented peer works as before.
mcp 1.x (no OpenTelemetry of its own): the same spans, context and metrics, started here (sdk1.py).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.semconv._incubating.attributes import mcp_attributes as _mcp
from opentelemetry.semconv._incubating.metrics import mcp_metrics as _mcpm
from opentelemetry.trace import SpanKind

from agent_otel import __version__, semconv
from agent_otel._guard import report_internal_error
from agent_otel.instrumentation.mcp import sdk1, sessions
from agent_otel.instrumentation.mcp.package import _instruments
from agent_otel.recorder import AGENT_NAME_KEY, SCOPE

MCP_METHOD_NAME = _mcp.MCP_METHOD_NAME
MCP_SESSION_ID = _mcp.MCP_SESSION_ID
MCP_PROTOCOL_VERSION = _mcp.MCP_PROTOCOL_VERSION
CLIENT_DURATION = _mcpm.MCP_CLIENT_OPERATION_DURATION
SERVER_DURATION = _mcpm.MCP_SERVER_OPERATION_DURATION
CLIENT_SESSION_DURATION = _mcpm.MCP_CLIENT_SESSION_DURATION
SERVER_SESSION_DURATION = _mcpm.MCP_SERVER_SESSION_DURATION
# ExplicitBucketBoundaries advised for all four MCP metrics (docs/gen-ai/mcp.md).
MCP_DURATION_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
GEN_AI_PROMPT_NAME = "gen_ai.prompt.name"
NETWORK_TRANSPORT = sessions.NETWORK_TRANSPORT
NETWORK_PROTOCOL_NAME = sessions.NETWORK_PROTOCOL_NAME
NETWORK_PROTOCOL_VERSION = sessions.NETWORK_PROTOCOL_VERSION
RPC_STATUS = "rpc.response.status_code"
_SPAN_SITES = (("mcp.shared.jsonrpc_dispatcher", "otel_span"), ("mcp.server._otel", "otel_span"))
_METRIC_KEYS = (MCP_METHOD_NAME, semconv.GEN_AI_TOOL_NAME, semconv.GEN_AI_OPERATION_NAME, GEN_AI_PROMPT_NAME, MCP_PROTOCOL_VERSION,
                NETWORK_TRANSPORT, NETWORK_PROTOCOL_NAME, NETWORK_PROTOCOL_VERSION, semconv.ERROR_TYPE, RPC_STATUS)
_CLIENT_METRIC_KEYS = _METRIC_KEYS + sessions.CLIENT_ADDRESS_KEYS  # the model's mcp.client.address_and_port.attributes
# Transports where they are defined (wrapped always), then where the SDK imported them by name
# (wrapped when already imported; a later import takes the wrapped one from the defining module).
_TRANSPORT_SITES = (("mcp.client.stdio", "stdio_client", "stdio"), ("mcp.client.streamable_http", "streamable_http_client", "http"),
                    ("mcp.client.streamable_http", "streamablehttp_client", "http"),  # the 1.x name
                    ("mcp.client.sse", "sse_client", "http"), ("mcp.server.stdio", "stdio_server", "stdio"))
_TRANSPORT_IMPORT_SITES = (("mcp.client.client", "stdio_client", "stdio"), ("mcp.client.client", "streamable_http_client", "http"),
                           ("mcp", "stdio_client", "stdio"), ("mcp", "stdio_server", "stdio"),
                           ("mcp.client.session_group", "sse_client", "http"), ("mcp.client.session_group", "streamable_http_client", "http"),
                           ("mcp.server.mcpserver.server", "stdio_server", "stdio"), ("mcp.server.fastmcp.server", "stdio_server", "stdio"))
_SEND_PREFIX = "MCP send "


def _convention_attributes(name: str, attributes: dict[str, Any], server: bool) -> tuple[str, dict[str, Any], str | None]:
    """(span name, attributes, tool name) of one MCP span the SDK is about to start."""
    rest = name[len(_SEND_PREFIX):] if name.startswith(_SEND_PREFIX) else name
    attrs = dict(attributes)
    method = str(attrs.get(MCP_METHOD_NAME) or rest.split(" ", 1)[0])
    target = rest[len(method) + 1:] if rest.startswith(method + " ") else None
    tool = None
    if method == "tools/call" and target:
        tool = target
        attrs[semconv.GEN_AI_OPERATION_NAME] = semconv.OP_EXECUTE_TOOL
        attrs[semconv.GEN_AI_TOOL_NAME] = target
        if not server:
            attrs[semconv.AGENT_OTEL_KIND] = semconv.KIND_TOOL
            attrs[semconv.AGENT_OTEL_NAME] = target
            attrs[semconv.GEN_AI_TOOL_TYPE] = "extension"  # the conventions' value for tools run by an external service
            agent = otel_context.get_value(AGENT_NAME_KEY)
            if agent:
                attrs[semconv.GEN_AI_AGENT_NAME] = agent
    elif method == "prompts/get" and target:
        attrs[GEN_AI_PROMPT_NAME] = target
    peer = sessions.served_peer.get() if server else sessions.current_connection.get()
    for key, value in (peer or {}).items():
        if value is not None and key not in attrs:
            attrs[key] = value
    return (f"{method} {target}" if target else method), attrs, tool


class _Telemetry:
    """Tracer and the four MCP duration histograms, on the given providers (None: the global ones, followed when swapped)."""

    def __init__(self, tracer_provider: Any, meter_provider: Any) -> None:
        self._tp, self._mp = tracer_provider, meter_provider
        self._cache: dict[int, tuple[Any, Any, Any]] = {}

    def tracer(self) -> Any:
        return trace.get_tracer(SCOPE, __version__, self._tp, schema_url=semconv.schema_url())

    def histograms(self) -> tuple[Any, Any]:
        mp = self._mp if self._mp is not None else metrics.get_meter_provider()
        hit = self._cache.get(id(mp))
        if hit is None or hit[0] is not mp:
            meter = metrics.get_meter(SCOPE, __version__, mp, schema_url=semconv.schema_url())
            buckets = list(MCP_DURATION_BUCKETS)
            made = tuple(meter.create_histogram(name, unit="s", description=text, explicit_bucket_boundaries_advisory=buckets) for name, text in (
                (CLIENT_DURATION, "Duration of an MCP request or notification as the sender sees it."),
                (SERVER_DURATION, "Duration of an MCP request or notification as the receiver sees it."),
                (CLIENT_SESSION_DURATION, "Duration of an MCP session as the client sees it."),
                (SERVER_SESSION_DURATION, "Duration of an MCP session as the server sees it.")))
            hit = self._cache[id(mp)] = (mp, *made)
        return hit[1:]

    @contextmanager
    def span(self, name: str, *, kind: SpanKind, attributes: dict[str, Any] | None = None, context: Any = None,
             record_exception: bool = True, set_status_on_exception: bool = True) -> Iterator[Any]:
        """`otel_span` of the SDK, to the conventions (same signature, same span semantics)."""
        server = kind == SpanKind.SERVER
        try:
            span_name, attrs, tool = _convention_attributes(name, attributes or {}, server)
            outer = trace.get_current_span() if tool and not server else None
            outer_attrs = getattr(outer, "attributes", None) or {}
            reuse = outer is not None and outer_attrs.get(semconv.AGENT_OTEL_KIND) == semconv.KIND_TOOL and outer_attrs.get(semconv.GEN_AI_TOOL_NAME) == tool
        except Exception as internal:  # noqa: BLE001
            report_internal_error("mcp.span", internal)
            with _sdk_fallback(name, kind, attributes, context, record_exception, set_status_on_exception) as span:
                yield span
            return
        t0 = time.perf_counter()
        error: BaseException | None = None
        span = None
        attached = None
        try:
            if reuse:  # the caller's own tool span already stands for this call
                outer.set_attributes({k: v for k, v in attrs.items() if k not in (semconv.AGENT_OTEL_KIND, semconv.AGENT_OTEL_NAME)})
                span = outer
                yield outer
            else:
                # The extracted context (the peer's baggage: its conversation) becomes current for the
                # handler's own spans; the SDK passes it only as the parent of its span.
                if server and context is not None:
                    attached = otel_context.attach(context)
                with self.tracer().start_as_current_span(span_name, kind=kind, attributes=attrs, context=context,
                                                         record_exception=record_exception, set_status_on_exception=set_status_on_exception) as span:
                    yield span
        except BaseException as exc:
            error = exc
            raise
        finally:
            if attached is not None:
                otel_context.detach(attached)
            self._record(time.perf_counter() - t0, server, span, attrs, error)

    def _record(self, elapsed: float, server: bool, span: Any, attrs: dict[str, Any], error: BaseException | None) -> None:
        try:
            final = {**attrs, **(getattr(span, "attributes", None) or {})} if span is not None else attrs
            point = {k: final[k] for k in (_METRIC_KEYS if server else _CLIENT_METRIC_KEYS) if final.get(k) is not None}
            if error is not None and semconv.ERROR_TYPE not in point:
                point[semconv.ERROR_TYPE] = type(error).__qualname__
            client, srv = self.histograms()[:2]
            (srv if server else client).record(elapsed, point)
        except Exception as internal:  # noqa: BLE001
            report_internal_error("mcp.metrics", internal)


def _sdk_fallback(name: str, kind: SpanKind, attributes: Any, context: Any, record_exception: bool, set_status_on_exception: bool) -> Any:
    return trace.get_tracer("mcp-python-sdk").start_as_current_span(
        name, kind=kind, attributes=attributes, context=context, record_exception=record_exception, set_status_on_exception=set_status_on_exception)


def _inject_into_params(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """(args, kwargs) of `notify(method, params, ...)` with the current context injected into params._meta."""
    params = args[1] if len(args) > 1 else kwargs.get("params")
    meta = dict((params or {}).get("_meta") or {})
    propagate.inject(meta)
    if not meta:
        return args, kwargs
    new = {**dict(params or {}), "_meta": meta}
    if len(args) > 1:
        return (args[0], new, *args[2:]), kwargs
    return args, {**kwargs, "params": new}


async def _notify(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """`JSONRPCDispatcher.notify` with the trace context (and baggage) in `params._meta`, as requests have it."""
    try:
        args, kwargs = _inject_into_params(tuple(args), dict(kwargs))
    except Exception as internal:  # noqa: BLE001
        report_internal_error("mcp.notify", internal)
    return await wrapped(*args, **kwargs)


async def _send_request(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """`JSONRPCDispatcher.send_raw_request`: the connection's transport attributes for the client span inside."""
    token = None
    try:
        token = sessions.current_connection.set(sessions.client_connection(instance))
    except Exception as internal:  # noqa: BLE001
        report_internal_error("mcp.send", internal)
    try:
        return await wrapped(*args, **kwargs)
    finally:
        if token is not None:
            sessions.current_connection.reset(token)


def _served_peer(ctx: Any) -> dict[str, Any]:
    """Connection attributes of one inbound message (HTTP: from the Starlette request; else its transport's tag)."""
    request = getattr(ctx, "request", None)
    headers = getattr(request, "headers", None)
    connection = getattr(getattr(ctx, "session", None), "_connection", None)
    outbound = getattr(connection, "outbound", None)
    record = sessions.connection(getattr(outbound, "_outbound", outbound))
    session = headers.get("mcp-session-id") if headers is not None else None
    if session is None:
        session = getattr(connection, "session_id", None)
    if headers is not None:
        scope = getattr(request, "scope", None) or {}
        peer: dict[str, Any] = {NETWORK_TRANSPORT: "tcp", NETWORK_PROTOCOL_NAME: "http", NETWORK_PROTOCOL_VERSION: scope.get("http_version")}
        client = getattr(request, "client", None)
        if client is not None and getattr(client, "host", None):
            peer[sessions.CLIENT_ADDRESS] = client.host
            peer[sessions.CLIENT_PORT] = client.port
    else:  # stdio (tagged by the transport), or in memory (no network attributes)
        peer = {k: (record or {}).get(k) for k in (NETWORK_TRANSPORT, NETWORK_PROTOCOL_NAME)}
    peer[MCP_SESSION_ID] = session
    # The connection's own record (server session metric): transport, protocol, negotiated version.
    if record is not None:
        record.update({k: peer[k] for k in sessions.SESSION_KEYS if peer.get(k) is not None})
        version = getattr(ctx, "protocol_version", None)
        if isinstance(version, str):
            record[MCP_PROTOCOL_VERSION] = version
    return peer


async def _serve(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """`OpenTelemetryMiddleware.__call__`: note the transport, client and session of the message for its span."""
    token = None
    try:
        ctx = args[0] if args else kwargs.get("ctx")
        token = sessions.served_peer.set(_served_peer(ctx))
    except Exception as internal:  # noqa: BLE001
        report_internal_error("mcp.serve", internal)
    try:
        return await wrapped(*args, **kwargs)
    finally:
        if token is not None:
            sessions.served_peer.reset(token)


def _has_own_otel() -> bool:
    """mcp 2.x starts its own spans (`mcp.shared._otel`); 1.x has none."""
    return importlib.util.find_spec("mcp.shared._otel") is not None


class MCPInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """`MCPInstrumentor().instrument(tracer_provider=..., meter_provider=...)`; entry point `agent_otel_mcp`."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        telemetry = _Telemetry(kwargs.get("tracer_provider"), kwargs.get("meter_provider"))
        self._sdk1 = not _has_own_otel()
        self._wrap_transports()
        if self._sdk1:
            sdk1.instrument(telemetry)
            return

        def span_site(wrapped: Any, instance: Any, args: Any, kw: Any) -> Any:
            return telemetry.span(*args, **kw)

        for module, name in _SPAN_SITES:
            wrapt.wrap_function_wrapper(module, name, span_site)
        wrapt.wrap_function_wrapper("mcp.shared.jsonrpc_dispatcher", "JSONRPCDispatcher.notify", _notify)
        wrapt.wrap_function_wrapper("mcp.shared.jsonrpc_dispatcher", "JSONRPCDispatcher.send_raw_request", _send_request)
        wrapt.wrap_function_wrapper("mcp.server._otel", "OpenTelemetryMiddleware.__call__", _serve)
        tracked = sessions.Sessions(telemetry.histograms)
        wrapt.wrap_function_wrapper("mcp.shared.jsonrpc_dispatcher", "JSONRPCDispatcher.run", tracked.dispatcher_run)
        wrapt.wrap_function_wrapper("mcp.client.session", "ClientSession.__aenter__", tracked.client_enter)
        wrapt.wrap_function_wrapper("mcp.client.session", "ClientSession.__aexit__", tracked.client_exit)

    @staticmethod
    def _wrap_transports() -> None:
        for module, name, kind in _TRANSPORT_SITES + _TRANSPORT_IMPORT_SITES:
            if (module in sys.modules or (module, name, kind) in _TRANSPORT_SITES) and hasattr(importlib.import_module(module), name):
                wrapt.wrap_function_wrapper(module, name, sessions.transport_wrapper(kind))

    def _uninstrument(self, **kwargs: Any) -> None:
        for module, name, _kind in _TRANSPORT_SITES + _TRANSPORT_IMPORT_SITES:
            if module in sys.modules:
                unwrap(sys.modules[module], name)
        if getattr(self, "_sdk1", False):
            sdk1.uninstrument()
            return
        for module, name in _SPAN_SITES:
            unwrap(importlib.import_module(module), name)
        from mcp.client.session import ClientSession
        from mcp.server._otel import OpenTelemetryMiddleware
        from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher

        for method in ("notify", "send_raw_request", "run"):
            unwrap(JSONRPCDispatcher, method)
        unwrap(ClientSession, "__aenter__")
        unwrap(ClientSession, "__aexit__")
        unwrap(OpenTelemetryMiddleware, "__call__")
