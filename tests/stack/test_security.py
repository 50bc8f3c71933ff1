"""Only the right people get in: a collector with bearer-token auth and TLS (deploy/collector/
auth.yaml + tls.yaml overlays) rejects unauthenticated or plaintext exports and accepts the SDK
configured with the token; the accepted spans reach Jaeger."""

from __future__ import annotations

import subprocess
import sys
import uuid

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent_otel.stack import processes
from loadgen.backends import jaeger_trace_ids, poll

pytestmark = pytest.mark.stack
TOKEN = "t0k3n-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def secured(stack, tmp_path_factory):
    """A second collector of the stack's distribution with auth + TLS, writing to the same backends."""
    d = tmp_path_factory.mktemp("secured")
    cert, key, token = d / "tls.crt", d / "tls.key", d / "token"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    token.write_text(TOKEN)
    local = processes.Stack(str(d), stack.ports)
    grpc_port, http_port, health, telemetry = processes.free_ports(4)
    name, argv, env, health_url, urls = processes._collector(
        "secured", local, ["auth.yaml", "tls.yaml"], grpc_port, http_port, health, telemetry,
        AGENT_OTEL_TOKEN_FILE=str(token), AGENT_OTEL_TLS_CERT_FILE=str(cert), AGENT_OTEL_TLS_KEY_FILE=str(key))
    processes._launch(local, name, argv, env, health_url, urls, 60, lambda _m: None)
    try:
        yield {"endpoint": f"https://127.0.0.1:{grpc_port}", "plain": f"http://127.0.0.1:{grpc_port}", "cert": cert}
    finally:
        processes.down(d)


def one_span():
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.get_tracer("t").start_span("probe").end()
    return memory.get_finished_spans()


def export(endpoint: str, cert, headers: dict[str, str] | None) -> SpanExportResult:
    creds = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes()) if endpoint.startswith("https") else None
    exporter = OTLPSpanExporter(endpoint=endpoint, insecure=creds is None, credentials=creds, headers=headers, timeout=5)
    try:
        return exporter.export(one_span())
    finally:
        exporter.shutdown()


def test_unauthenticated_wrong_token_and_plaintext_exports_are_rejected(secured):
    assert export(secured["endpoint"], secured["cert"], None) == SpanExportResult.FAILURE
    assert export(secured["endpoint"], secured["cert"], {"authorization": "Bearer wrong"}) == SpanExportResult.FAILURE
    assert export(secured["plain"], secured["cert"], {"authorization": f"Bearer {TOKEN}"}) == SpanExportResult.FAILURE
    assert export(secured["endpoint"], secured["cert"], {"authorization": f"Bearer {TOKEN}"}) == SpanExportResult.SUCCESS


def test_sdk_sends_the_token_from_env_and_its_spans_arrive(secured, stack):
    service = f"secured-{uuid.uuid4().hex[:6]}"
    code = (
        "import agent_otel\n"
        f"agent_otel.configure({service!r}, endpoint={secured['endpoint']!r})\n"
        "for i in range(25):\n"
        "    with agent_otel.tool('lookup'):\n"
        "        pass\n"
        "assert agent_otel.shutdown()\n"
    )
    env = {"AGENT_OTEL_TOKEN": TOKEN, "OTEL_EXPORTER_OTLP_CERTIFICATE": str(secured["cert"]), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert TOKEN not in proc.stderr + proc.stdout
    traces = poll(lambda: jaeger_trace_ids(stack.urls["jaeger_query"], service), until=lambda t: len(t) == 25)
    assert len(traces) == 25
