"""Secrets never leave the process: the redaction policy on every signal, and the local store's file modes."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from agent_otel import _guard, redaction
from agent_otel.redacting_exporters import RedactingLogExporter, RedactingMetricExporter, RedactingSpanExporter

SECRET = "sk-proj-Zq8XvT4nW2mK9pL3rB7yC1dF6gH0jA5s"
MARKER = "MARKERWORD"

# (pattern name, text holding a secret, the secret, text of the same look that is no secret)
CASES = [
    ("openai_api_key", f"key {SECRET} ok", SECRET, "sk-learn and risk-assessment-of-task"),
    ("anthropic_api_key", "x sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv y", "sk-ant-api03-AbCd", "sk-ant-short"),
    ("github_token", "ghp_0123456789abcdefghijklmnopqrstuvwxyz", "ghp_0123456789abcdef", "ghp_short"),
    ("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE in env", "AKIAIOSFODNN7EXAMPLE", "AKIA is a prefix"),
    ("jwt", "t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sgn", "eyJzdWIiOiIxMjM0In0", "eyJ alone"),
    ("private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA7", "BEGIN PUBLIC KEY"),
    ("bearer_credential", "sent Bearer abc123def456ghi", "abc123def456ghi", "a bearer bond"),
    ("authorization_header", "Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", "authorization failed"),
    ("basic_credential", "header Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA", "Basic information, Basic HTTP auth"),
    ("url_credentials", "postgres://app:hunter2pw@db:5432/x", "hunter2pw", "https://example.com/a@b"),
    ("credential_assignment", '{"password": "hunter2pw", "max_tokens": 100}', "hunter2pw", "input_tokens=12 token budget"),
    ("card_number", "paid with 4111 1111 1111 1111 today", "4111 1111 1111 1111", "order 4111 1111 1111 1112 ts 1732526400000000000"),
    ("google_api_key", "AIzaSyA-1234567890abcdefghijklmnopqrstu", "AIzaSyA-1234567890", "AIza"),
]


@pytest.fixture(autouse=True)
def _fresh_counts():
    redaction.reset_for_tests()
    yield
    redaction.reset_for_tests()


@pytest.mark.parametrize("name, text, secret, benign", CASES, ids=[c[0] for c in CASES])
def test_each_default_pattern_masks_its_secret_and_counts_it_by_name(name, text, secret, benign):
    policy = redaction.build()
    out = policy.redact(text)
    assert secret not in out and redaction.REDACTED in out
    assert redaction.counts().get(name, 0) >= 1, redaction.counts()
    assert policy.redact(benign) == benign  # no false positive on the look-alike


def test_emails_only_on_request_and_user_patterns_are_named():
    text = "mail alice@example.com ticket ACME-123456"
    assert redaction.build().redact(text) == text
    out = redaction.build({"ticket": r"ACME-\d{6}"}, emails=True).redact(text)
    assert out == "mail [REDACTED] ticket [REDACTED]"
    assert redaction.counts() == {"email": 1, "ticket": 1}
    assert redaction.build([r"ACME-\d{6}"]).redact(text).endswith("[REDACTED]") and redaction.counts()["custom_0"] == 1


def test_env_switches_emails_on(monkeypatch):
    monkeypatch.setenv("AGENT_OTEL_REDACT_EMAILS", "true")
    assert "alice@example.com" not in redaction.build().redact("alice@example.com")


def test_bad_user_pattern_is_named():
    with pytest.raises(ValueError, match=r"redact pattern '\(' is not a valid regular expression"):
        redaction.build(["("])


def test_attribute_whose_key_names_a_credential_is_masked_whole():
    out = redaction.build().redact_attributes({"db.password": "hunter2", "http.request.header.authorization": ["x y"], "gen_ai.usage.input_tokens": 5, "model": "gpt"})
    assert out == {"db.password": "[REDACTED]", "http.request.header.authorization": ["[REDACTED]"], "gen_ai.usage.input_tokens": 5, "model": "gpt"}
    assert redaction.build().redact_attributes({"model": "gpt", "n": 3}) is None  # nothing to change: no copy


def test_a_pattern_that_fails_masks_the_value_and_never_raises():
    class Boom(redaction.Policy):
        def _scan(self, text):
            raise RuntimeError("regex engine broke")

    _guard.reset_for_tests()
    policy = Boom()
    policy._cached = policy._scan
    assert policy.redact(f"x {SECRET}") == redaction.FAILED
    assert _guard.internal_error_counts() == {"redaction": 1}


def test_spans_are_redacted_everywhere_before_the_exporter_sees_them():
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "svc", "deploy.note": f"key {SECRET}"}))
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(memory, redaction.build())))
    tracer = provider.get_tracer("other.instrumentation")
    with tracer.start_as_current_span(f"GET /v1?key={SECRET}") as span:
        span.set_attribute("http.url", f"https://x/?api_key={SECRET}")
        span.set_attribute("note", f"{MARKER} {SECRET}")
        span.add_event("retry", {"detail": f"auth Bearer {SECRET}"})
        try:
            raise ValueError(f"bad key {SECRET}")
        except ValueError as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"ValueError: bad key {SECRET}"))
    (out,) = memory.get_finished_spans()
    dumped = out.to_json()
    assert SECRET not in dumped and SECRET[8:] not in dumped
    assert MARKER in out.attributes["note"]
    assert out.status.status_code == StatusCode.ERROR and "ValueError: bad key" in out.status.description
    exc_event = [e for e in out.events if e.name == "exception"][0]
    assert "bad key [REDACTED]" in exc_event.attributes["exception.message"]
    assert "bad key [REDACTED]" in exc_event.attributes["exception.stacktrace"]
    assert out.resource.attributes["service.name"] == "svc"
    assert redaction.counts()["openai_api_key"] >= 6


def test_a_clean_span_is_passed_through_without_a_copy():
    from agent_otel.redacting_exporters import redact_span

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("clean") as span:
        span.set_attribute("k", "v")
    (readable,) = memory.get_finished_spans()
    assert redact_span(readable, redaction.build()) is readable
    assert redaction.counts() == {}


def test_log_bodies_and_attributes_are_redacted():
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(RedactingLogExporter(memory, redaction.build())))
    from opentelemetry.instrumentation.logging.handler import LoggingHandler

    logger = logging.getLogger("test.redaction.logs")
    logger.propagate = False
    logger.addHandler(LoggingHandler(logger_provider=provider))
    try:
        try:
            raise RuntimeError(f"upstream said {SECRET}")
        except RuntimeError:
            logger.exception("%s calling with key %s", MARKER, SECRET, extra={"cfg": f"token={SECRET}"})
    finally:
        logger.handlers.clear()
    (item,) = memory.get_finished_logs()
    record = item.log_record
    text = json.dumps({"body": record.body, "attrs": dict(record.attributes)})
    assert SECRET not in text and MARKER in record.body
    assert "[REDACTED]" in record.attributes["exception.message"]


class _Capture(MetricExporter):
    def __init__(self):
        super().__init__()
        self.points = []

    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        for rm in metrics_data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    self.points += [(m.name, dict(p.attributes)) for p in m.data.data_points]
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis=10_000):
        return True

    def shutdown(self, timeout_millis=30_000, **kwargs):
        pass


def test_metric_attributes_are_redacted():
    capture = _Capture()
    reader = PeriodicExportingMetricReader(RedactingMetricExporter(capture, redaction.build()), export_interval_millis=60_000)
    provider = MeterProvider(metric_readers=[reader])
    counter = provider.get_meter("m").create_counter("calls")
    counter.add(1, {"route": f"/v1?key={SECRET}", "kind": "tool"})
    counter.add(1, {"kind": "step"})
    provider.force_flush()
    provider.shutdown()
    attrs = [a for name, a in capture.points if name == "calls"]
    assert {"kind": "step"} in attrs
    assert {"route": "/v1?key=[REDACTED]", "kind": "tool"} in attrs
    assert SECRET not in repr(capture.points)


def _run(code: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, env={**clean, **env})


def _dump(db) -> str:
    conn = sqlite3.connect(db)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return "\n".join(repr(row) for t in tables for row in conn.execute(f"SELECT * FROM {t}"))


def test_secret_logged_raised_and_set_in_a_decorated_call_reaches_neither_store_nor_report(tmp_path):
    store = tmp_path / "agent-otel" / "store.db"
    proc = _run(
        f"""
        import logging, agent_otel
        agent_otel.configure("leaky", exporter="local", redact_emails=True, capture_content=True)
        log = logging.getLogger("leaky.tool")
        log.setLevel(logging.INFO)

        @agent_otel.tool(name="lookup")
        def lookup(q, api_key):
            agent_otel.current_span().set_attribute("lookup.note", "{MARKER} {SECRET}")
            log.error("{MARKER} calling with key {SECRET} and mail alice@example.com")
            raise PermissionError("rejected key {SECRET}")

        @agent_otel.agent(name="bot")
        def bot():
            try:
                lookup("weather", api_key="{SECRET}")
            except PermissionError:
                log.exception("{MARKER} lookup failed with key {SECRET}")  # + the exception's message

        for _ in range(3):
            bot()
        agent_otel.force_flush()  # spans and logs first, then the metrics that count their redactions
        agent_otel.shutdown()
        """,
        {"AGENT_OTEL_STORE": str(store)},
    )
    assert proc.returncode == 0, proc.stderr
    dumped = _dump(store)
    assert MARKER in dumped and "lookup" in dumped
    assert SECRET not in dumped and SECRET[8:20] not in dumped and "alice@example.com" not in dumped
    assert "rejected key [REDACTED]" in dumped  # the raised message arrived (log record), masked
    counts = sqlite3.connect(store).execute(
        "SELECT attributes FROM metric_points WHERE name = 'agent_otel.redactions'").fetchall()
    assert any("openai_api_key" in a for (a,) in counts) and any("email" in a for (a,) in counts)

    report = subprocess.run([sys.executable, "-m", "agent_otel.cli", "report", "--source", "local", "--store", str(store),
                             "--since", "1h", "--format", "json"], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    excerpt = data["errors"][0]["log_excerpt"] or ""
    assert MARKER in excerpt and "[REDACTED]" in excerpt, excerpt
    assert SECRET not in report.stdout and "alice@example.com" not in report.stdout


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_store_files_are_private_after_configure(tmp_path):
    store = tmp_path / "data" / "agent-otel" / "store.db"
    proc = _run(
        """
        import agent_otel
        agent_otel.configure("svc", exporter="local")
        with agent_otel.tool("t"):
            pass
        agent_otel.force_flush()
        import os, stat, sys
        d = os.path.dirname(os.environ["AGENT_OTEL_STORE"])
        print({f: oct(stat.S_IMODE(os.stat(os.path.join(d, f)).st_mode)) for f in os.listdir(d)})
        print(oct(stat.S_IMODE(os.stat(d).st_mode)))
        """,
        {"AGENT_OTEL_STORE": str(store)},
    )
    assert proc.returncode == 0, proc.stderr
    files, directory = proc.stdout.strip().splitlines()
    assert directory == "0o700"
    modes = eval(files)  # {name: mode} while the writer is open, so -wal and -shm exist
    assert {"store.db", "store.db-wal", "store.db-shm"} <= set(modes) and set(modes.values()) == {"0o600"}, modes
    assert "readable by other users" not in proc.stderr  # nothing to tighten on a fresh store


def test_store_left_world_readable_by_an_older_version_is_tightened_with_one_line(tmp_path):
    d = tmp_path / "agent-otel"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    db = d / "store.db"
    sqlite3.connect(db).execute("CREATE TABLE old (x)").connection.close()
    os.chmod(db, 0o644)
    proc = _run(
        """
        import agent_otel
        agent_otel.configure("svc", exporter="local")
        with agent_otel.tool("t"):
            pass
        agent_otel.shutdown()
        """,
        {"AGENT_OTEL_STORE": str(db)},
    )
    assert proc.returncode == 0, proc.stderr
    assert _mode(d) == 0o700 and _mode(db) == 0o600
    warnings = [line for line in proc.stderr.splitlines() if "readable by other users" in line]
    assert len(warnings) == 1 and "644->600" in warnings[0] and "755->700" in warnings[0], proc.stderr


def test_stack_data_and_config_dirs_are_private(tmp_path, monkeypatch, caplog):
    from agent_otel.stack import processes

    monkeypatch.setenv("AGENT_OTEL_CACHE", str(tmp_path / "empty-cache"))
    old = tmp_path / "old-stack"
    old.mkdir(mode=0o755)
    os.chmod(old, 0o755)
    with caplog.at_level(logging.WARNING, "agent_otel.stack"), pytest.raises(processes.StackError, match="not built yet"):
        processes.up(old, processes.Ports.free())
    assert _mode(old) == 0o700
    assert [r.message for r in caplog.records if "readable by other users" in r.message]
    stack = processes.Stack(str(old), processes.Ports.free())
    processes._commands(stack, None, None)
    assert _mode(old / "config") == 0o700
    stack.save()
    assert _mode(old / "stack.json") == 0o600


def test_hints_only_skip_work_never_change_the_result():
    """The Python-side hints and prefilters are a speed-up: without them every text redacts the same."""
    import dataclasses

    plain = redaction.Policy([dataclasses.replace(p, hints=(), prefilter=None) for p in redaction.patterns_for(emails=True)])
    fast = redaction.build(emails=True)
    texts = [c[1] for c in CASES] + [c[3] for c in CASES] + [
        "Token: abcd1234 and AUTHORIZATION=xyz123 PASSWD='s3cr3t!' Bearer " + "a" * 40,
        "mail Alice.B@Example.co.uk card 5555-5555-5555-4444 and 378282246310005",
    ]
    for text in texts:
        assert fast.redact(text) == plain.redact(text), text


def test_configure_names_a_bad_redact_pattern(tmp_path):
    proc = _run("import agent_otel\nagent_otel.configure('svc', exporter='none', redact_patterns=['ok', '('])", {})
    assert proc.returncode == 1
    assert "ConfigError: redact_patterns: redact pattern '(' is not a valid regular expression" in proc.stderr
