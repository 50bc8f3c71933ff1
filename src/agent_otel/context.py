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


def instrument_context_flow(tracer_provider: Any = None) -> None:
    """Once `configure()` ran: context follows threads and executors, log records carry trace ids.

    The contrib instrumentations do both: `opentelemetry-instrumentation-threading` attaches the
    submitting context in `Thread.run`, `Timer.run` and `ThreadPoolExecutor.submit` (so pool work,
    `loop.run_in_executor` included, stays in the trace without `wrap_context`);
    `opentelemetry-instrumentation-logging` adds `otelTraceID`, `otelSpanID`, `otelServiceName` and
    `otelTraceSampled` to every log record, so a format such as ``%(otelTraceID)s`` works. It does
    not change the app's logging format (`set_logging_format=False`) nor add a second log handler
    (configure() installs its own). Never raises: a failure is logged once and counted.
    """
    from agent_otel._guard import report_internal_error

    try:
        from opentelemetry.instrumentation.logging import LoggingInstrumentor
        from opentelemetry.instrumentation.threading import ThreadingInstrumentor

        todo = (
            (ThreadingInstrumentor(), {}),
            (LoggingInstrumentor(), {"tracer_provider": tracer_provider, "set_logging_format": False,
                                     "inject_trace_context": True, "enable_log_auto_instrumentation": False}),
        )
        for instrumentor, kwargs in todo:
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(**kwargs)
    except Exception as exc:  # noqa: BLE001
        report_internal_error("context flow instrumentation", exc)
