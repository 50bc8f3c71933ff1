"""MCP peers and sessions: who is on the other end of a connection, and how long the connection lasted.

The `mcp` SDK's spans know the message but not the connection: which transport carries it, the
server's address, the negotiated protocol. This module keeps one record per connection (keyed
weakly by its `JSONRPCDispatcher`) that the span and metric code reads:
- client: the transport functions (`stdio_client`, `streamable_http_client`, `sse_client`) are
  wrapped to tag the write stream they hand out with `network.transport` (`pipe` / `tcp`),
  `network.protocol.name` and `server.address`/`server.port` of the URL; a `ClientSession`
  picks the tag up through its dispatcher when it is entered;
- server: the dispatcher loop of one connection (stdio, SSE, a stateful streamable-HTTP session)
  is the session; each served message fills in transport, protocol and client address.
`mcp.client.session.duration` is recorded when a `ClientSession` exits, `mcp.server.session.duration`
when the server's dispatcher loop for the connection ends; `error.type` when either ends by an
exception. Stateless HTTP exchanges (one dispatcher per POST, no session) record no session.
No library does this (the SDK records no metrics); hand-written on `wrapt`.
"""

from __future__ import annotations

import contextvars
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.semconv._incubating.attributes import client_attributes as _client
from opentelemetry.semconv._incubating.attributes import network_attributes as _net

from agent_otel import semconv
from agent_otel._guard import report_internal_error

NETWORK_TRANSPORT = _net.NETWORK_TRANSPORT
NETWORK_PROTOCOL_NAME = _net.NETWORK_PROTOCOL_NAME
NETWORK_PROTOCOL_VERSION = _net.NETWORK_PROTOCOL_VERSION
CLIENT_ADDRESS = _client.CLIENT_ADDRESS
CLIENT_PORT = _client.CLIENT_PORT
MCP_PROTOCOL_VERSION = "mcp.protocol.version"
# Attributes of the session metrics (model/mcp/metrics.yaml `mcp.session.metrics.attributes`, plus
# network.transport / network.protocol.version that docs/gen-ai/mcp.md lists for them too).
SESSION_KEYS = (MCP_PROTOCOL_VERSION, NETWORK_TRANSPORT, NETWORK_PROTOCOL_NAME, NETWORK_PROTOCOL_VERSION)
CLIENT_ADDRESS_KEYS = (semconv.SERVER_ADDRESS, semconv.SERVER_PORT)

# write stream id -> (stream, transport attributes), while the transport that made it is open.
_streams: dict[int, tuple[Any, dict[str, Any]]] = {}
# dispatcher -> the connection's attributes (a live dict, filled in as messages are served).
_connections: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
# dispatcher -> the ClientSession driving it (for the negotiated protocol version).
_client_sessions: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
# Connection attributes of the inbound message being served (server spans read it): transport,
# protocol, client address, session id.
served_peer: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("agent_otel_mcp_peer", default=None)
# The attributes of the connection whose outbound request is being sent (client spans read it).
current_connection: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("agent_otel_mcp_connection", default=None)


def url_attributes(url: str) -> dict[str, Any]:
    """Transport attributes of an HTTP(S) MCP endpoint URL."""
    parts = urlsplit(url)
    attrs: dict[str, Any] = {NETWORK_TRANSPORT: "tcp", NETWORK_PROTOCOL_NAME: "http"}
    if parts.hostname:
        attrs[semconv.SERVER_ADDRESS] = parts.hostname
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        if port:
            attrs[semconv.SERVER_PORT] = port
    return attrs


def transport_wrapper(kind: str) -> Any:
    """A `wrapt` wrapper for a client transport function: tags the write stream it yields."""

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        try:
            if kind == "stdio":
                attrs: dict[str, Any] = {NETWORK_TRANSPORT: "pipe"}
            else:
                url = args[0] if args else kwargs.get("url")
                attrs = url_attributes(str(url)) if url is not None else {NETWORK_TRANSPORT: "tcp", NETWORK_PROTOCOL_NAME: "http"}
        except Exception as internal:  # noqa: BLE001
            report_internal_error("mcp.transport", internal)
            return wrapped(*args, **kwargs)
        return _tagged(wrapped(*args, **kwargs), attrs)

    return wrapper


@asynccontextmanager
async def _tagged(transport: Any, attrs: dict[str, Any]) -> AsyncIterator[Any]:
    async with transport as streams:
        key = None
        try:
            write_stream = streams[1]
            key = id(write_stream)
            _streams[key] = (write_stream, attrs)
        except Exception as internal:  # noqa: BLE001
            report_internal_error("mcp.transport", internal)
        try:
            yield streams
        finally:
            if key is not None:
                _streams.pop(key, None)


def _stream_attributes(dispatcher: Any) -> dict[str, Any]:
    stream = getattr(dispatcher, "_write_stream", None)
    hit = _streams.get(id(stream)) if stream is not None else None
    return dict(hit[1]) if hit is not None and hit[0] is stream else {}


def connection(dispatcher: Any) -> dict[str, Any] | None:
    """The live attribute dict of a dispatcher's connection (None: not known)."""
    try:
        return _connections.get(dispatcher)
    except TypeError:
        return None


def client_connection(dispatcher: Any) -> dict[str, Any]:
    """Attributes for a client span sent over `dispatcher`: transport, address, negotiated version."""
    attrs = dict(connection(dispatcher) or {})
    session = _client_sessions.get(dispatcher) if dispatcher is not None else None
    version = getattr(session, "protocol_version", None) if session is not None else None
    if isinstance(version, str):
        attrs[MCP_PROTOCOL_VERSION] = version
    return attrs


class Sessions:
    """The two session-duration histograms and the wrappers that record them."""

    def __init__(self, histograms: Any) -> None:
        self._histograms = histograms  # () -> (client operation, server operation, client session, server session)

    # --- client: ClientSession.__aenter__ / __aexit__ -------------------------------------------

    async def client_enter(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        try:
            key = getattr(instance, "_dispatcher", instance)  # mcp 2.x: its dispatcher; 1.x: the session itself
            attrs = _stream_attributes(key)
            _connections[key] = attrs
            if key is not instance:
                _client_sessions[key] = instance
            instance._agent_otel_session = (time.perf_counter(), attrs)
        except Exception as internal:  # noqa: BLE001
            report_internal_error("mcp.session", internal)
        return await wrapped(*args, **kwargs)

    async def client_exit(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        return await self._exit_session(wrapped, instance, args, kwargs, server=False)

    async def _exit_session(self, wrapped: Any, instance: Any, args: Any, kwargs: Any, *, server: bool) -> Any:
        """`__aexit__` of a session whose `__aenter__` noted its start: the session metric once it ended."""
        error = args[1] if len(args) > 1 else kwargs.get("exc_val")
        try:
            return await wrapped(*args, **kwargs)
        finally:
            started = getattr(instance, "_agent_otel_session", None)
            if started is not None:
                instance._agent_otel_session = None
                t0, attrs = started
                if server:
                    version = getattr(getattr(instance, "client_params", None), "protocolVersion", None)  # asked in initialize
                    self._record_session(3, t0, attrs, SESSION_KEYS, version, error)
                else:
                    version = getattr(instance, "protocol_version", None) or attrs.get(MCP_PROTOCOL_VERSION)
                    self._record_session(2, t0, attrs, SESSION_KEYS + CLIENT_ADDRESS_KEYS, version, error)

    def _record_session(self, which: int, t0: float, attrs: dict[str, Any], keys: tuple[str, ...], version: Any,
                        error: Any) -> None:
        """One point of mcp.client.session.duration (`which` 2) or mcp.server.session.duration (3):
        `error.type` only when the session ended by an error that is not a cancellation."""
        try:
            point = {k: attrs[k] for k in keys if attrs.get(k) is not None}
            if isinstance(version, str):
                point.setdefault(MCP_PROTOCOL_VERSION, version)
            if isinstance(error, BaseException) and not isinstance(error, GeneratorExit) and not _is_cancellation(error):
                point[semconv.ERROR_TYPE] = error_type(error)
            self._histograms()[which].record(time.perf_counter() - t0, point)
        except Exception as internal:  # noqa: BLE001
            report_internal_error("mcp.session", internal)

    # --- mcp 1.x: BaseSession.__aenter__ / __aexit__ (ClientSession and ServerSession alike) -----

    async def session_enter(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if isinstance(instance, _client_session_class()):
            return await self.client_enter(wrapped, instance, args, kwargs)
        try:
            state = getattr(getattr(instance, "_initialization_state", None), "name", None)
            if state != "Initialized":  # a stateless HTTP exchange is born initialized: no session
                attrs = _stream_attributes(instance)
                _connections[instance] = attrs
                instance._agent_otel_session = (time.perf_counter(), attrs)
        except Exception as internal:  # noqa: BLE001
            report_internal_error("mcp.session", internal)
        return await wrapped(*args, **kwargs)

    async def session_exit(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        return await self._exit_session(wrapped, instance, args, kwargs, server=not isinstance(instance, _client_session_class()))

    # --- server: JSONRPCDispatcher.run on the serving side -------------------------------------

    async def dispatcher_run(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        on_request = args[0] if args else kwargs.get("on_request")
        try:
            serving = not _is_client(on_request) and not _stateless(instance)
            if serving:
                attrs = _stream_attributes(instance)
                _connections[instance] = attrs
        except Exception as internal:  # noqa: BLE001
            report_internal_error("mcp.session", internal)
            serving = False
        if not serving:
            return await wrapped(*args, **kwargs)
        t0 = time.perf_counter()
        error: BaseException | None = None
        try:
            return await wrapped(*args, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._record_session(3, t0, attrs, SESSION_KEYS, None, error)


def error_type(error: BaseException) -> str:
    """The class name of the error; a task group's wrapper of one error is looked through (the conventions' MAY)."""
    while len(getattr(error, "exceptions", ())) == 1 and isinstance(error.exceptions[0], BaseException):  # type: ignore[attr-defined]
        error = error.exceptions[0]  # type: ignore[attr-defined]
    return type(error).__qualname__


def _client_session_class() -> type:
    from mcp.client.session import ClientSession

    return ClientSession


def _is_client(on_request: Any) -> bool:
    owner = getattr(on_request, "__self__", None)
    return owner is not None and type(owner).__name__ == "ClientSession"


def _stateless(dispatcher: Any) -> bool:
    """One dispatcher per stateless streamable-HTTP POST: an exchange, not a session."""
    builder = getattr(dispatcher, "_transport_builder", None)
    if builder is None or getattr(builder, "__name__", "") == "_default_transport_builder":
        return False
    try:
        ctx = builder(None)
    except Exception:  # noqa: BLE001
        return False
    return getattr(ctx, "kind", None) == "streamable-http" and not getattr(ctx, "can_send_request", True)


def _is_cancellation(error: BaseException) -> bool:
    import anyio

    return isinstance(error, anyio.get_cancelled_exc_class()) or type(error).__name__ == "CancelledError"
