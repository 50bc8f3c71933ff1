"""Each conformance test owns its providers: in-memory span/metric/log pipelines of its own.

`own` installs them as the global providers for the test (and restores the previous ones), the
way pytest-genai-semconv's `genai_spans` swaps the tracer provider; instrumentors are instead
given them explicitly (`instrument(tracer_provider=..., meter_provider=..., logger_provider=...)`).
Metrics are read from an InMemoryMetricReader with no flush call: what a user's test would do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import _internal as logs_internal
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@dataclass
class Providers:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider
    spans_out: InMemorySpanExporter
    reader: InMemoryMetricReader
    logs_out: InMemoryLogRecordExporter

    def kwargs(self) -> dict[str, Any]:
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider, "logger_provider": self.logger_provider}

    def spans(self) -> list[ReadableSpan]:
        return list(self.spans_out.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return found[0]

    def metrics(self) -> dict[str, Any]:
        """Metric name -> (metric, scope) from one collection, without any flush call."""
        out: dict[str, Any] = {}
        data = self.reader.get_metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    out[m.name] = (m, sm.scope)
        return out

    def metrics_all(self) -> dict[str, list[Any]]:
        """Metric name -> [(metric, scope)] of every scope that recorded it (agent-otel and official instrumentations)."""
        out: dict[str, list[Any]] = {}
        data = self.reader.get_metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    out.setdefault(m.name, []).append((m, sm.scope))
        return out

    def logs(self) -> list[Any]:
        return [getattr(r, "log_record", r) for r in self.logs_out.get_finished_logs()]


def make_providers() -> Providers:
    spans_out = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(spans_out))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    logs_out = InMemoryLogRecordExporter()
    lp = LoggerProvider()
    lp.add_log_record_processor(SimpleLogRecordProcessor(logs_out))
    return Providers(tp, mp, lp, spans_out, reader, logs_out)


@pytest.fixture
def providers() -> Providers:
    """Providers of the test's own, not installed anywhere (give them to instrumentors)."""
    return make_providers()


@pytest.fixture
def own(providers: Providers) -> Iterator[Providers]:
    """The test's providers installed as the global ones for its duration."""
    saved = (trace._TRACER_PROVIDER, metrics_internal._METER_PROVIDER, logs_internal._LOGGER_PROVIDER)

    def install(tp: Any, mp: Any, lp: Any) -> None:
        trace._TRACER_PROVIDER = tp
        trace._TRACER_PROVIDER_SET_ONCE._done = tp is not None
        metrics_internal._METER_PROVIDER = mp
        metrics_internal._METER_PROVIDER_SET_ONCE._done = mp is not None
        logs_internal._LOGGER_PROVIDER = lp
        logs_internal._LOGGER_PROVIDER_SET_ONCE._done = lp is not None

    install(providers.tracer_provider, providers.meter_provider, providers.logger_provider)
    try:
        yield providers
    finally:
        install(*saved)


@pytest.fixture(params=["default", "latest"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Both conventions modes: the released ones, and OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental."""
    from agent_otel import recorder

    if request.param == "latest":
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    else:
        monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    recorder.reset_default_recorder()
    yield request.param
    recorder.reset_default_recorder()
