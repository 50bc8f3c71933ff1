"""Metric instruments of the inference optimizer, batcher, cache and budgets (names in one place)."""

from __future__ import annotations

import functools
from typing import Any

from opentelemetry import metrics

_meter = metrics.get_meter("agent_otel.optimize")


@functools.cache
def instrument(name: str) -> Any:
    kinds = {
        "agent_otel.batcher.batch_size": ("histogram", "{request}", "Requests per batched session run", [1, 2, 4, 8, 16, 32, 64, 128]),
        "agent_otel.batcher.queue_time": ("histogram", "s", "Time a request waited for its batch", [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25]),
        "agent_otel.cache.requests": ("counter", "{request}", "Inference cache lookups by agent_otel.cache.result=hit|miss", None),
        "agent_otel.budget.waits": ("counter", "{request}", "Admissions that had to wait for a budget", None),
        "agent_otel.budget.wait_time": ("histogram", "s", "Time spent waiting for a budget", [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30]),
        "agent_otel.budget.rejections": ("counter", "{request}", "Admissions refused by a budget, by agent_otel.budget.resource", None),
    }
    kind, unit, description, buckets = kinds[name]
    if kind == "counter":
        return _meter.create_counter(name, unit=unit, description=description)
    return _meter.create_histogram(name, unit=unit, description=description, explicit_bucket_boundaries_advisory=buckets)
