"""Secrets never reach the backends: through the real collector into Jaeger and Loki.

Two senders: a decorated agent (agent-otel redacts before export) and a plain OpenTelemetry SDK
that redacts nothing (the collector's redaction and transform processors must clean it). Each
puts a secret next to a marker word in a log line, an exception, a span attribute, a span name
and a status message; the marker must arrive, the secret must not.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import httpx
import pytest

from loadgen.backends import poll

pytestmark = pytest.mark.stack

SECRET = "sk-proj-" + uuid.uuid4().hex + "Xy7"
MARKER = "MARKER" + uuid.uuid4().hex[:8]

AGENT = textwrap.dedent(
    f"""
    import logging, sys
    import agent_otel

    agent_otel.configure("redact-agent", exporter="otlp", endpoint=sys.argv[1], metric_interval=1)
    logging.getLogger().setLevel(logging.INFO)
    log = logging.getLogger("redact")

    @agent_otel.tool("lookup")
    def lookup(q):
        agent_otel.current_span().set_attribute("lookup.note", "{MARKER} key {SECRET}")
        log.error("{MARKER} calling with key {SECRET}")
        raise PermissionError("{MARKER} rejected key {SECRET}")

    @agent_otel.agent("redact-planner")
    def run(q):
        try:
            lookup(q)
        except PermissionError:
            log.exception("{MARKER} lookup failed")

    run("weather")
    agent_otel.force_flush()
    agent_otel.shutdown()
    """
)


def _foreign_sdk(endpoint: str) -> None:
    """Plain OpenTelemetry SDK, no agent-otel: whatever it sends reaches the collector unredacted."""
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import Status, StatusCode

    resource = Resource.create({"service.name": "foreign-sdk"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=True)))
    tracer = tracer_provider.get_tracer("foreign")
    logger = logging.getLogger("foreign-sdk")
    logger.propagate = False
    logger.addHandler(LoggingHandler(logger_provider=logger_provider))
    with tracer.start_as_current_span(f"GET /items?api_key={SECRET}") as span:
        span.set_attribute("note", f"{MARKER} key {SECRET}")
        span.set_attribute("db.password", "hunter2-plain")
        try:
            raise ValueError(f"{MARKER} rejected key {SECRET}")
        except ValueError as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{MARKER} rejected key {SECRET}"))
        logger.error("%s calling with key %s", MARKER, SECRET)
    tracer_provider.shutdown()
    logger_provider.shutdown()
    logger.handlers.clear()


def _jaeger_trace(urls: dict[str, str], service: str, min_spans: int):
    def fetch():
        r = httpx.get(f"{urls['jaeger_query']}/api/traces", params={"service": service, "limit": 5}, timeout=5)
        data = r.json().get("data") or []
        return data[0] if data and len(data[0]["spans"]) >= min_spans else None

    return poll(fetch)


def _loki_lines(urls: dict[str, str], service: str, want: int):
    def fetch():
        now = time.time_ns()
        r = httpx.get(f"{urls['loki']}/loki/api/v1/query_range",
                      params={"query": f'{{service_name="{service}"}}', "start": str(now - 600 * 10**9), "end": str(now)}, timeout=5).json()
        lines = [v for stream in r["data"]["result"] for v in stream["values"]]
        return lines if len(lines) >= want else None

    return poll(fetch)


def test_secrets_reach_neither_jaeger_nor_loki_while_the_marker_does(stack, tmp_path):
    urls = stack.urls
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    proc = subprocess.run([sys.executable, str(script), urls["otlp_grpc"]], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    _foreign_sdk(urls["otlp_grpc"])

    for service, spans, lines in (("redact-agent", 2, 2), ("foreign-sdk", 1, 1)):
        trace = _jaeger_trace(urls, service, spans)
        assert trace, f"{service}: trace not found in Jaeger"
        dumped = json.dumps(trace)
        assert MARKER in dumped, f"{service}: the marker did not arrive in Jaeger"
        assert SECRET not in dumped and SECRET[8:24] not in dumped, f"{service}: secret in Jaeger"
        logs = _loki_lines(urls, service, lines)
        assert logs, f"{service}: log lines not found in Loki"
        dumped_logs = json.dumps(logs)
        assert MARKER in dumped_logs, f"{service}: the marker did not arrive in Loki"
        assert SECRET not in dumped_logs and SECRET[8:24] not in dumped_logs, f"{service}: secret in Loki"

    foreign = _jaeger_trace(urls, "foreign-sdk", 1)["spans"][0]
    tags = {t["key"]: t["value"] for t in foreign["tags"]}
    assert foreign["operationName"] == "GET /items?api_key=****"  # transform/redaction on span names
    assert tags["db.password"] == "****"  # a key that names a credential: masked whole
    assert tags["note"] == f"{MARKER} key ****"
    assert tags.get("otel.status_description") == f"{MARKER} rejected key ****"
    agent_spans = {s["operationName"]: s for s in _jaeger_trace(urls, "redact-agent", 2)["spans"]}
    note = {t["key"]: t["value"] for t in agent_spans["execute_tool lookup"]["tags"]}["lookup.note"]
    assert note == f"{MARKER} key [REDACTED]"  # masked in the process already


def test_stack_data_and_config_directories_are_private(stack):
    data = Path(stack.data_dir)
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(data / "config").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(data / "stack.json").st_mode) == 0o600
