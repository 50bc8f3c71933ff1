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
