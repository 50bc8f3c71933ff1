"""MCP with the `mcp` SDK 1.x, which has no OpenTelemetry of its own: both sides' spans and the context in `_meta`.

The 2.x instrumentor reshapes the spans the SDK starts; 1.x starts none and carries no trace
context, so here agent-otel does what the 2.x SDK does itself, on 1.x's own seams (`wrapt`):
- `BaseSession.send_request`: a CLIENT span (`{mcp.method.name} {target}`, `jsonrpc.request.id`,
  the JSON-RPC error code as `error.type` / `rpc.response.status_code`) and the W3C trace context
  and baggage injected into the request's `params._meta` (its `model_dump`, through a proxy);
- `BaseSession.send_notification`: the context in `params._meta` of notifications;
- the low-level `Server._handle_request` / `_handle_notification` (FastMCP runs on it): a SERVER
  span parented on the context extracted from `params._meta`, made current for the handler;
  `tool_error` when a tool result says `isError`, the error code when the handler answers an error;
- `ClientSession.initialize`: the negotiated `mcp.protocol.version`;
- `BaseSession.__aenter__` / `__aexit__`: the session-duration metrics (sessions.py).
Span naming, attributes and the operation metrics are the 2.x path's (`_Telemetry.span`).
"""

from __future__ import annotations

from typing import Any

import wrapt
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, StatusCode

from agent_otel import semconv
from agent_otel._guard import report_internal_error
from agent_otel.instrumentation.mcp import sessions

RPC_STATUS = "rpc.response.status_code"
_WRAPPED = (("mcp.shared.session", "BaseSession.send_request"), ("mcp.shared.session", "BaseSession.send_notification"),
            ("mcp.shared.session", "BaseSession.__aenter__"), ("mcp.shared.session", "BaseSession.__aexit__"),
            ("mcp.client.session", "ClientSession.initialize"),
            ("mcp.server.lowlevel.server", "Server._handle_request"), ("mcp.server.lowlevel.server", "Server._handle_notification"))


class _WithMeta(wrapt.ObjectProxy):  # type: ignore[misc]
    """A request or notification whose `model_dump` carries the trace context in `params._meta`."""

    def __init__(self, wrapped: Any, carrier: dict[str, str]) -> None:
        super().__init__(wrapped)
        self._self_carrier = carrier

    def model_dump(self, *args: Any, **kwargs: Any) -> Any:
        data = self.__wrapped__.model_dump(*args, **kwargs)
        try:
            params = dict(data.get("params") or {})
            params["_meta"] = {**(params.get("_meta") or {}), **self._self_carrier}
            data["params"] = params
        except Exception as internal:  # noqa: BLE001
            report_internal_error("mcp1.inject", internal)
        return data


def _method_and_target(message: Any) -> tuple[str, str | None]:
    root = getattr(message, "root", message)
    method = str(getattr(root, "method", "") or "")
    name = getattr(getattr(root, "params", None), "name", None)
    return method, (name if isinstance(name, str) and method in ("tools/call", "prompts/get") else None)


def _carrier() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def instrument(telemetry: Any) -> None:
    """Wrap the 1.x seams; `telemetry` is the instrumentor's `_Telemetry` (spans, histograms)."""
    tracked = sessions.Sessions(telemetry.histograms)

    async def send_request(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        request = args[0] if args else kwargs.get("request")
        try:
            method, target = _method_and_target(request)
            name = f"{method} {target}" if target else method
            attributes = {"mcp.method.name": method, "jsonrpc.request.id": str(getattr(instance, "_request_id", ""))}
            token = sessions.current_connection.set(sessions.client_connection(instance))
        except Exception as internal:  # noqa: BLE001
            report_internal_error("mcp1.send", internal)
            return await wrapped(*args, **kwargs)
        try:
            with telemetry.span(name, kind=SpanKind.CLIENT, attributes=attributes) as span:
                try:
                    carrier = _carrier()
                    if carrier:
                        args, kwargs = ((_WithMeta(request, carrier), *args[1:]), kwargs) if args else (args, {**kwargs, "request": _WithMeta(request, carrier)})
                except Exception as internal:  # noqa: BLE001
                    report_internal_error("mcp1.inject", internal)
                try:
                    return await wrapped(*args, **kwargs)
                except Exception as exc:
                    code = getattr(getattr(exc, "error", None), "code", None)
                    if code is not None:  # McpError: the JSON-RPC error of the response
                        span.set_attributes({semconv.ERROR_TYPE: str(code), RPC_STATUS: str(code)})
                        span.set_status(StatusCode.ERROR, str(getattr(exc.error, "message", "")))  # type: ignore[attr-defined]
                    else:
                        span.set_attribute(semconv.ERROR_TYPE, sessions.error_type(exc))
                    raise
        finally:
            sessions.current_connection.reset(token)

    async def send_notification(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        try:
            carrier = _carrier()
            if carrier:
                if args:
                    args = (_WithMeta(args[0], carrier), *args[1:])
                elif "notification" in kwargs:
                    kwargs = {**kwargs, "notification": _WithMeta(kwargs["notification"], carrier)}
        except Exception as internal:  # noqa: BLE001
            report_internal_error("mcp1.notify", internal)
        return await wrapped(*args, **kwargs)

    async def initialize(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        result = await wrapped(*args, **kwargs)
        try:
            record = sessions.connection(instance)
            if record is not None and isinstance(getattr(result, "protocolVersion", None), str):
                record[sessions.MCP_PROTOCOL_VERSION] = result.protocolVersion
        except Exception as internal:  # noqa: BLE001
            report_internal_error("mcp1.initialize", internal)
        return result

    async def handle(message: Any, request_data: Any, session: Any, wrapped: Any, args: Any, kwargs: Any, request_id: Any) -> Any:
        try:
            method, target = _method_and_target(message)
            meta = getattr(getattr(message, "params", None), "meta", None)
            carrier = meta.model_dump() if hasattr(meta, "model_dump") else dict(meta or {})
            context = propagate.extract(carrier) if carrier.get("traceparent") else None
            attributes: dict[str, Any] = {"mcp.method.name": method}
            if request_id is not None:
                attributes["jsonrpc.request.id"] = str(request_id)
            if method == "tools/call":
                attributes[semconv.GEN_AI_OPERATION_NAME] = semconv.OP_EXECUTE_TOOL
            peer = _peer(request_data, session)
            token = sessions.served_peer.set(peer)
        except Exception as internal:  # noqa: BLE001
            report_internal_error("mcp1.serve", internal)
            return await wrapped(*args, **kwargs)
        try:
            name = f"{method} {target}" if target else method
            with telemetry.span(name, kind=SpanKind.SERVER, attributes=attributes, context=context,
                                record_exception=True, set_status_on_exception=True) as span:
                responder = args[0] if request_id is not None else None
                if responder is not None:
                    _watch_response(responder, span)
                try:
                    return await wrapped(*args, **kwargs)
                except Exception as exc:  # raise_exceptions: the handler's own error
                    span.set_attribute(semconv.ERROR_TYPE, sessions.error_type(exc))
                    raise
        finally:
            sessions.served_peer.reset(token)

    async def handle_request(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        responder, req, session = (list(args) + [None, None, None])[:3]
        metadata = getattr(responder, "message_metadata", None)
        request_data = getattr(metadata, "request_context", None)
        return await handle(req, request_data, session, wrapped, args, kwargs, getattr(responder, "request_id", None))

    async def handle_notification(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        notify = args[0] if args else kwargs.get("notify")
        return await handle(notify, None, None, wrapped, args, kwargs, None)

    for module, name in _WRAPPED:
        target_fn = {
            "BaseSession.send_request": send_request, "BaseSession.send_notification": send_notification,
            "BaseSession.__aenter__": tracked.session_enter, "BaseSession.__aexit__": tracked.session_exit,
            "ClientSession.initialize": initialize, "Server._handle_request": handle_request,
            "Server._handle_notification": handle_notification,
        }[name]
        wrapt.wrap_function_wrapper(module, name, target_fn)


def _watch_response(responder: Any, span: Any) -> None:
    """Mark the span from what the handler answers: an error's code, or a tool result with `isError`."""
    respond = responder.respond

    async def watched(response: Any) -> Any:
        try:
            code = getattr(response, "code", None)
            if code is not None and hasattr(response, "message"):  # ErrorData
                span.set_attributes({semconv.ERROR_TYPE: str(code), RPC_STATUS: str(code)})
                span.set_status(StatusCode.ERROR, str(response.message))
            elif getattr(getattr(response, "root", response), "isError", False) is True:
                span.set_attribute(semconv.ERROR_TYPE, "tool_error")
                span.set_status(StatusCode.ERROR)
        except Exception as internal:  # noqa: BLE001
            report_internal_error("mcp1.respond", internal)
        return await respond(response)

    responder.respond = watched


def _peer(request: Any, session: Any) -> dict[str, Any]:
    """Connection attributes of a served message: the HTTP request's, else the session's transport tag."""
    record = sessions.connection(session) if session is not None else None
    headers = getattr(request, "headers", None)
    if headers is not None:
        scope = getattr(request, "scope", None) or {}
        peer: dict[str, Any] = {sessions.NETWORK_TRANSPORT: "tcp", sessions.NETWORK_PROTOCOL_NAME: "http",
                                sessions.NETWORK_PROTOCOL_VERSION: scope.get("http_version"), "mcp.session.id": headers.get("mcp-session-id")}
        client = getattr(request, "client", None)
        if client is not None and getattr(client, "host", None):
            peer[sessions.CLIENT_ADDRESS] = client.host
            peer[sessions.CLIENT_PORT] = client.port
    else:
        peer = {k: (record or {}).get(k) for k in (sessions.NETWORK_TRANSPORT, sessions.NETWORK_PROTOCOL_NAME)}
    params = getattr(session, "client_params", None)
    version = getattr(params, "protocolVersion", None)
    if isinstance(version, str):
        peer[sessions.MCP_PROTOCOL_VERSION] = version
    if record is not None:
        record.update({k: peer[k] for k in sessions.SESSION_KEYS if peer.get(k) is not None})
    return peer


def uninstrument() -> None:
    import importlib

    from opentelemetry.instrumentation.utils import unwrap

    for module, name in _WRAPPED:
        owner, attr = name.split(".")
        unwrap(getattr(importlib.import_module(module), owner), attr)
