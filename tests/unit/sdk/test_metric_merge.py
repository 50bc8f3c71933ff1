"""Decorator metrics are merged into the SDK in batches: what every reader sees must be what
`Histogram.record` per value would have given it (views, temporality, buckets, attributes), at
its next collection, with no flush call."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, SumAggregation, View

import agent_otel
from agent_otel import histogram_merge, instruments, semconv


def _points(reader: InMemoryMetricReader) -> dict[str, list[dict[str, Any]]]:
    """Metric name -> its points as plain dicts, sorted by attributes (comparable across providers)."""
    data = reader.get_metrics_data()
    out: dict[str, list[dict[str, Any]]] = {}
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                rows = []
                for p in m.data.data_points:
                    row = {k: v for k, v in vars(p).items() if k not in ("start_time_unix_nano", "time_unix_nano", "exemplars")}
                    row["attributes"] = dict(p.attributes)
                    for k in ("sum", "min", "max", "value"):
                        if isinstance(row.get(k), float):
                            row[k] = pytest.approx(row[k], rel=1e-9)
                    for k in ("positive", "negative"):
                        if k in row:
                            row[k] = (row[k].offset, tuple(row[k].bucket_counts))
                    rows.append(row)
                out[m.name] = sorted(rows, key=lambda r: sorted(map(str, r["attributes"].items())))
    return out


def _provider(temporality: AggregationTemporality) -> tuple[MeterProvider, InMemoryMetricReader]:
    reader = InMemoryMetricReader(preferred_temporality={Histogram: temporality})
    views = [
        View(instrument_name="kept_keys", attribute_keys={"a"}),  # drops attribute b
        View(instrument_name="exponential", aggregation=ExponentialBucketHistogramAggregation()),
        View(instrument_name="summed", aggregation=SumAggregation()),
        View(instrument_name="renamed", name="renamed.other"),
        View(instrument_name="renamed"),  # the same instrument also under its own name
    ]
    return MeterProvider(metric_readers=[reader], views=views), reader


@pytest.mark.parametrize("temporality", [AggregationTemporality.DELTA, AggregationTemporality.CUMULATIVE])
def test_batched_merge_gives_every_reader_what_record_per_value_gives(temporality):
    assert histogram_merge.SDK_OK, "the installed SDK's internals changed: every value takes the slow path"
    merged_mp, merged_reader = _provider(temporality)
    direct_mp, direct_reader = _provider(temporality)
    rng = random.Random(7)
    names = ("plain", "kept_keys", "exponential", "summed", "renamed")
    bounds = [0.01, 0.1, 1.0, 10.0]
    hists = {mp: {n: mp.get_meter("m").create_histogram(n, unit="s", explicit_bucket_boundaries_advisory=bounds) for n in names}
             for mp in (merged_mp, direct_mp)}
    assert histogram_merge._storages(hists[merged_mp]["plain"]) is not None  # the batched path, not per-value records
    for _round in range(3):  # several collections: delta resets, cumulative keeps adding
        for name in names:
            for attrs in ({"a": "x", "b": 1}, {"a": "y", "b": 2}, {"a": "x", "b": 3}):
                values = [rng.choice([0.0, 0.01, 0.1, 10.0, 1e6]) if rng.random() < 0.2 else rng.expovariate(2.0) for _ in range(40)]
                histogram_merge.record_many(hists[merged_mp][name], attrs, values)
                for v in values:
                    hists[direct_mp][name].record(v, attrs)
        merged, direct = _points(merged_reader), _points(direct_reader)
        assert merged == direct
        assert set(merged) == {"plain", "kept_keys", "exponential", "summed", "renamed", "renamed.other"}


def test_rejected_values_are_left_to_the_sdk(caplog):
    mp, reader = _provider(AggregationTemporality.CUMULATIVE)
    h = mp.get_meter("m").create_histogram("plain", explicit_bucket_boundaries_advisory=[1.0])
    histogram_merge.record_many(h, {"k": "v"}, [0.5, -1.0, float("nan"), 2.0])
    (p,) = _points(reader)["plain"]
    assert (p["count"], p["bucket_counts"], p["min"], p["max"]) == (2, (1, 1), 0.5, 2.0)
    assert "non-negative" in caplog.text and "not finite" in caplog.text


def test_decorator_metrics_from_many_threads_reach_the_reader_at_its_next_collection(otel):
    """8 threads x 300 calls of a tool inside an agent, a tool alone and a model call; no flush."""
    bounds = list(semconv.DURATION_BUCKETS)
    barrier = threading.Barrier(8)

    @agent_otel.tool("lookup")
    def lookup(i: int) -> int:
        return i

    @agent_otel.agent("planner")
    def planner(i: int) -> int:
        return lookup(i)

    @agent_otel.llm("gpt-4o", provider="openai")
    def chat() -> None:
        pass

    def worker() -> None:
        barrier.wait()
        for i in range(300):
            planner(i)
            lookup(i)
            chat()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    data = otel.metric_reader.get_metrics_data()  # the reader's own collection: no flush call
    got = {m.name: list(m.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    tool_points = {p.attributes.get(semconv.GEN_AI_AGENT_NAME): p for p in got[semconv.METRIC_EXECUTE_TOOL_DURATION]}
    assert set(tool_points) == {"planner", None}
    for p in tool_points.values():
        assert p.count == 2400 and sum(p.bucket_counts) == 2400 and list(p.explicit_bounds) == bounds
        assert p.attributes[semconv.GEN_AI_TOOL_NAME] == "lookup" and 0 < p.min <= p.max and p.sum > 0
    (agent_point,) = got[semconv.METRIC_INVOKE_AGENT_DURATION]
    assert agent_point.count == 2400 and agent_point.attributes[semconv.GEN_AI_AGENT_NAME] == "planner"
    assert list(agent_point.explicit_bounds) == list(semconv.AGENT_DURATION_BUCKETS)
    (op_point,) = got[semconv.METRIC_OPERATION_DURATION]
    assert op_point.count == 2400
    assert dict(op_point.attributes) == {semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_PROVIDER_NAME: "openai",
                                         semconv.GEN_AI_REQUEST_MODEL: "gpt-4o"}
    own = {p.attributes[semconv.AGENT_OTEL_KIND]: p.count for p in got[semconv.METRIC_DURATION]}
    assert own == {"agent": 2400, "tool": 4800, "llm": 2400}
    assert instruments.buffer.dropped == 0


def test_model_calls_with_attributes_set_inside_share_their_metric_attributes(otel):
    """A client inside @llm sets response model / server: equal sets are one point, counted per call."""

    @agent_otel.llm("gpt-4o", provider="openai")
    def chat(model: str) -> None:
        from opentelemetry import trace

        span = trace.get_current_span()
        span.set_attribute(semconv.GEN_AI_RESPONSE_MODEL, model)
        span.set_attribute(semconv.SERVER_ADDRESS, "api.example")

    for i in range(30):
        chat("gpt-4o-2024-08-06" if i % 3 else "gpt-4o-mini")
    data = otel.metric_reader.get_metrics_data()
    (op,) = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics if m.name == semconv.METRIC_OPERATION_DURATION]
    counts = {p.attributes[semconv.GEN_AI_RESPONSE_MODEL]: p.count for p in op.data.data_points}
    assert counts == {"gpt-4o-2024-08-06": 20, "gpt-4o-mini": 10}
    assert all(p.attributes[semconv.SERVER_ADDRESS] == "api.example" for p in op.data.data_points)
