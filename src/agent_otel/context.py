"""Carrying the current span to where contextvars do not follow on their own.

asyncio tasks, `asyncio.gather` and `asyncio.to_thread` copy the context by themselves; a
`ThreadPoolExecutor.submit` or `loop.run_in_executor` does not, and its work would start a new
trace. `wrap_context(fn)` binds the caller's context to `fn` so the work stays in the trace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span

R = TypeVar("R")


def current_span() -> Span:
    """The span of the innermost agent/step/tool/... call in progress."""
    return trace.get_current_span()


def wrap_context(fn: Callable[..., R]) -> Callable[..., R]:
    """`fn` bound to the current OpenTelemetry context, for thread pools and executors."""
    ctx = otel_context.get_current()

    @functools.wraps(fn)
    def bound(*args: Any, **kwargs: Any) -> R:
        token = otel_context.attach(ctx)
        try:
            return fn(*args, **kwargs)
        finally:
            otel_context.detach(token)

    return bound


def _propagate_into_threads() -> None:
    """What `opentelemetry-instrumentation-threading` does, for installs without it (see below)."""
    import threading
    from concurrent import futures

    import wrapt

    def start(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        instance._otel_context = otel_context.get_current()
        return wrapped(*args, **kwargs)

    def run(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        ctx = getattr(instance, "_otel_context", None)
        token = otel_context.attach(ctx) if ctx is not None else None
        try:
            return wrapped(*args, **kwargs)
        finally:
            if token is not None:
                otel_context.detach(token)

    def submit(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        return wrapped(wrap_context(args[0]), *args[1:], **kwargs)

    for cls in (threading.Thread, threading.Timer):
        wrapt.wrap_function_wrapper(cls, "start", start)
        wrapt.wrap_function_wrapper(cls, "run", run)
    wrapt.wrap_function_wrapper(futures.ThreadPoolExecutor, "submit", submit)


_flowing = False


def instrument_context_flow(tracer_provider: Any = None) -> None:
    """Once `configure()` ran: context follows threads and executors, log records carry trace ids.

    Threads: the contrib `opentelemetry-instrumentation-threading` when it is installed (it attaches
    the submitting context in `Thread.run`, `Timer.run` and `ThreadPoolExecutor.submit`, so pool
    work, `loop.run_in_executor` included, stays in the trace without `wrap_context`); otherwise the
    same three wrappers here. It is not a hard dependency because its latest release (0.66b1) pins
    `opentelemetry-instrumentation==0.66b1` while the SDK and the other contrib packages are at
    1.45.2/0.66b2: pip 23.2 (Python 3.11's bundled pip, this project's CI) then fails to resolve
    `pip install -e .[dev]` at all (ResolutionImpossible; pip 26 resolves by downgrading).
    Logs: `opentelemetry-instrumentation-logging` adds `otelTraceID`, `otelSpanID`,
    `otelServiceName` and `otelTraceSampled` to every log record, so a format such as
    ``%(otelTraceID)s`` works; it changes neither the app's format (`set_logging_format=False`)
    nor its handlers (configure() installs its own). Never raises: a failure is logged once and counted.
    """
    global _flowing
    from agent_otel._guard import report_internal_error

    try:
        if not _flowing:
            try:
                from opentelemetry.instrumentation.threading import ThreadingInstrumentor
            except ImportError:
                _propagate_into_threads()
            else:
                if not ThreadingInstrumentor().is_instrumented_by_opentelemetry:
                    ThreadingInstrumentor().instrument()
            _flowing = True
        from opentelemetry.instrumentation.logging import LoggingInstrumentor

        if not LoggingInstrumentor().is_instrumented_by_opentelemetry:
            LoggingInstrumentor().instrument(tracer_provider=tracer_provider, set_logging_format=False,
                                             inject_trace_context=True, enable_log_auto_instrumentation=False)
    except Exception as exc:  # noqa: BLE001
        report_internal_error("context flow instrumentation", exc)
