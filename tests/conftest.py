"""Shared fixtures: in-memory OpenTelemetry providers installed once as the global ones.

OpenTelemetry's global providers can be set once per process, so the session installs
in-memory exporters once and each test gets them emptied (`otel` fixture).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, ObservableCounter, ObservableGauge, ObservableUpDownCounter, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_DELTA = {
    k: AggregationTemporality.DELTA
    for k in (Counter, UpDownCounter, Histogram, ObservableCounter, ObservableUpDownCounter, ObservableGauge)
}


def pytest_configure(config: pytest.Config) -> None:
    """Tests neither read nor write the user's agent-otel state: a stack they started, where data last went."""
    os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="agent-otel-test-state-")
    os.environ.pop("AGENT_OTEL_STACK_DIR", None)


@dataclass
class Otel:
    """What a test reads back: finished spans, metric points since the test began, log records."""

    span_exporter: InMemorySpanExporter
    metric_reader: InMemoryMetricReader
    log_exporter: InMemoryLogRecordExporter
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def spans(self) -> list[ReadableSpan]:
        return list(self.span_exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return found[0]

    def metrics(self) -> dict[str, list[Any]]:
        """Metric name -> data points recorded since the last call (delta temporality)."""
        from agent_otel import instruments

        instruments.flush()  # measurements wait in agent-otel's buffer until drained
        out: dict[str, list[Any]] = {}
        data = self.metric_reader.get_metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    out.setdefault(m.name, []).extend(m.data.data_points)
        return out

    def logs(self) -> list[Any]:
        return [getattr(r, "log_record", r) for r in self.log_exporter.get_finished_logs()]


@pytest.fixture(scope="session")
def _otel_session() -> Otel:
    span_exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    reader = InMemoryMetricReader(preferred_temporality=_DELTA)
    meter_provider = MeterProvider(metric_readers=[reader])
    log_exporter = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    set_logger_provider(logger_provider)
    handler = LoggingHandler(logger_provider=logger_provider)
    # Exports are synchronous, so nothing is left to flush at exit, where OpenTelemetry's handler
    # would flush from a new thread, which Python 3.12+ refuses then (a traceback after the summary).
    handler.flushOnClose = False
    logging.getLogger().addHandler(handler)
    return Otel(span_exporter, reader, log_exporter, tracer_provider, meter_provider)


@pytest.fixture
def otel(_otel_session: Otel) -> Iterator[Otel]:
    _otel_session.span_exporter.clear()
    _otel_session.log_exporter.clear()
    from agent_otel import instruments

    instruments.flush()
    _otel_session.metric_reader.get_metrics_data()  # drop what earlier tests recorded
    yield _otel_session


@pytest.fixture
def content_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set (value) or unset (None) content-capture variables for one test: the process-wide content
    policy is rebuilt from them, and rebuilt again after the test, whatever it did."""
    from agent_otel import content

    def set_env(**variables: str | None) -> None:
        for name, value in variables.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        content.set_policy(None)

    content.set_policy(None)
    yield set_env
    content.set_policy(None)


@pytest.fixture
def internal_errors() -> Iterator[Any]:
    """agent-otel's internal-error counts, from zero for this test (`internal_errors()` reads them)."""
    from agent_otel import _guard

    _guard.reset_for_tests()
    yield _guard.internal_error_counts
    _guard.reset_for_tests()
