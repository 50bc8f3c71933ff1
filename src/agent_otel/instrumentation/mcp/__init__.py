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
- `gen_ai.prompt.name` on `prompts/get`, `network.transport` (`pipe` for stdio, `tcp` for HTTP),
  `network.protocol.name` and `mcp.session.id` on server spans;
- the metrics `mcp.client.operation.duration` and `mcp.server.operation.duration` (s);
- the peer's extracted context made current while a message is served, so its baggage (the
  conversation id) reaches the handler's own spans (the SDK uses it only as its span's parent);
- the trace context in `params._meta` of notifications too (the SDK injects into requests only);
- the tracer and meter providers given to `instrument(...)` (the SDK uses the global ones).
Nothing changes on the wire but `_meta` of notifications, so an uninstrumented peer works as before.
mcp 1.x (no OpenTelemetry of its own) is not instrumented here.
"""

from __future__ import annotations

import contextvars
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
from agent_otel.instrumentation.mcp.package import _instruments
from agent_otel.recorder import AGENT_NAME_KEY, SCOPE

MCP_METHOD_NAME = _mcp.MCP_METHOD_NAME
MCP_SESSION_ID = _mcp.MCP_SESSION_ID
MCP_PROTOCOL_VERSION = _mcp.MCP_PROTOCOL_VERSION
CLIENT_DURATION = _mcpm.MCP_CLIENT_OPERATION_DURATION
SERVER_DURATION = _mcpm.MCP_SERVER_OPERATION_DURATION
GEN_AI_PROMPT_NAME = "gen_ai.prompt.name"
NETWORK_TRANSPORT = "network.transport"
NETWORK_PROTOCOL_NAME = "network.protocol.name"
RPC_STATUS = "rpc.response.status_code"
_SPAN_SITES = (("mcp.shared.jsonrpc_dispatcher", "otel_span"), ("mcp.server._otel", "otel_span"))
_METRIC_KEYS = (MCP_METHOD_NAME, semconv.GEN_AI_TOOL_NAME, semconv.GEN_AI_OPERATION_NAME, GEN_AI_PROMPT_NAME, MCP_PROTOCOL_VERSION,
                NETWORK_TRANSPORT, NETWORK_PROTOCOL_NAME, semconv.ERROR_TYPE, RPC_STATUS)
_SEND_PREFIX = "MCP send "
# (network.transport, network.protocol.name, mcp.session.id) of the inbound message being served.
_server_peer: contextvars.ContextVar[tuple[str, str | None, str | None] | None] = contextvars.ContextVar("agent_otel_mcp_peer", default=None)


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
    if server:
        peer = _server_peer.get()
        if peer is not None:
            attrs[NETWORK_TRANSPORT] = peer[0]
            if peer[1]:
                attrs[NETWORK_PROTOCOL_NAME] = peer[1]
            if peer[2]:
                attrs[MCP_SESSION_ID] = peer[2]
    return (f"{method} {target}" if target else method), attrs, tool


class _Telemetry:
    """Tracer and the two MCP duration histograms, on the given providers (None: the global ones, followed when swapped)."""

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
            buckets = list(semconv.DURATION_BUCKETS)
            client = meter.create_histogram(CLIENT_DURATION, unit="s", description="Duration of an MCP request or notification as the sender sees it.",
                                            explicit_bucket_boundaries_advisory=buckets)
            server = meter.create_histogram(SERVER_DURATION, unit="s", description="Duration of an MCP request or notification as the receiver sees it.",
                                            explicit_bucket_boundaries_advisory=buckets)
            hit = self._cache[id(mp)] = (mp, client, server)
        return hit[1], hit[2]

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
            point = {k: final[k] for k in _METRIC_KEYS if final.get(k) is not None}
            if error is not None and semconv.ERROR_TYPE not in point:
                point[semconv.ERROR_TYPE] = type(error).__qualname__
            client, srv = self.histograms()
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


async def _serve(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """`OpenTelemetryMiddleware.__call__`: note the transport and session of the message for its span."""
    token = None
    try:
        ctx = args[0] if args else kwargs.get("ctx")
        request = getattr(ctx, "request", None)
        headers = getattr(request, "headers", None)
        session = None
        if headers is not None:
            session = headers.get("mcp-session-id")
        if session is None:
            session = getattr(getattr(getattr(ctx, "session", None), "_connection", None), "session_id", None)
        peer = ("tcp", "http", session) if headers is not None else ("pipe", None, session)
        token = _server_peer.set(peer)
    except Exception as internal:  # noqa: BLE001
        report_internal_error("mcp.serve", internal)
    try:
        return await wrapped(*args, **kwargs)
    finally:
        if token is not None:
            _server_peer.reset(token)


class MCPInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """`MCPInstrumentor().instrument(tracer_provider=..., meter_provider=...)`; entry point `agent_otel_mcp`."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        telemetry = _Telemetry(kwargs.get("tracer_provider"), kwargs.get("meter_provider"))

        def span_site(wrapped: Any, instance: Any, args: Any, kw: Any) -> Any:
            return telemetry.span(*args, **kw)

        for module, name in _SPAN_SITES:
            wrapt.wrap_function_wrapper(module, name, span_site)
        wrapt.wrap_function_wrapper("mcp.shared.jsonrpc_dispatcher", "JSONRPCDispatcher.notify", _notify)
        wrapt.wrap_function_wrapper("mcp.server._otel", "OpenTelemetryMiddleware.__call__", _serve)

    def _uninstrument(self, **kwargs: Any) -> None:
        import importlib

        for module, name in _SPAN_SITES:
            unwrap(importlib.import_module(module), name)
        from mcp.server._otel import OpenTelemetryMiddleware
        from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher

        unwrap(JSONRPCDispatcher, "notify")
        unwrap(OpenTelemetryMiddleware, "__call__")
