"""The metric instruments the decorators record into, created once per process.

Instruments come from the global meter: before a MeterProvider is set they are proxies that
start recording as soon as one is, which is how instrumentation libraries are expected to behave.
Counts and error counts are the histograms' `_count`, split by `error.type`: no separate counter
costs a second record on the hot path.
"""

from __future__ import annotations

import functools
from typing import Any

from opentelemetry import metrics

from agent_otel import semconv

_meter = metrics.get_meter("agent_otel", "0.1.0")


@functools.cache
def _histogram(name: str) -> Any:
    spec = {
        semconv.METRIC_DURATION: ("s", semconv.DURATION_BUCKETS, "Duration of agent runs, steps, tool, model and inference calls, by agent_otel.kind."),
        semconv.METRIC_OPERATION_DURATION: ("s", semconv.DURATION_BUCKETS, "GenAI operation duration."),
        semconv.METRIC_INVOKE_AGENT_DURATION: ("s", semconv.AGENT_DURATION_BUCKETS, "Duration of an in-process agent invocation."),
        semconv.METRIC_EXECUTE_TOOL_DURATION: ("s", semconv.DURATION_BUCKETS, "Duration of a tool execution."),
        semconv.METRIC_TOKEN_USAGE: ("{token}", semconv.TOKEN_BUCKETS, "Number of input and output tokens used."),
    }[name]
    unit, buckets, description = spec
    return _meter.create_histogram(
        name, unit=unit, description=description, explicit_bucket_boundaries_advisory=list(buckets)
    )


def histograms_for(kind: str) -> tuple[Any, ...]:
    """Duration histograms one call of `kind` records into (the first is always agent_otel.duration)."""
    extra = {
        semconv.KIND_LLM: semconv.METRIC_OPERATION_DURATION,
        semconv.KIND_AGENT: semconv.METRIC_INVOKE_AGENT_DURATION,
        semconv.KIND_TOOL: semconv.METRIC_EXECUTE_TOOL_DURATION,
    }.get(kind)
    names = (semconv.METRIC_DURATION,) + ((extra,) if extra else ())
    return tuple(_histogram(n) for n in names)


def token_usage() -> Any:
    return _histogram(semconv.METRIC_TOKEN_USAGE)
