"""`agent-otel trace ID`: one trace as a waterfall a person can read — tree, timings, critical path,
tokens, errors, events, captured content and log lines — from the local store and from Jaeger+Loki."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent_otel import semconv
from agent_otel.analyzer.sources.base import SourceError
from agent_otel.analyzer.sources.local import LocalSource
from agent_otel.analyzer.sources.stack import StackSource
from agent_otel.analyzer.trace import load_trace
from spanwriter import MS, T0, Writer


def write_trace(path):
    """agent(0..300) -> plan(0..100) -> llm(10..90); tool search (100..250, fails, with an exception event and an ERROR log)."""
    w = Writer(path)
    root = w.span("agent", "bot", 0, 300)
    plan = w.span("step", "plan", 0, 100, parent=root)
    w.span("llm", "gpt-4o", 10, 80, parent=plan, **{semconv.GEN_AI_REQUEST_MODEL: "gpt-4o", semconv.GEN_AI_USAGE_INPUT_TOKENS: 1200,
                                                     semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 300, semconv.GEN_AI_INPUT_MESSAGES: '[{"role": "user", "content": "hi"}]'})
    tool = w.span("tool", "search", 100, 150, parent=root, error="TimeoutError",
                  events=[("exception", 149, {"exception.type": "TimeoutError", "exception.message": "search took too long"})])
    w.span("tool", "cache", 102, 5, parent=root)  # concurrent and short: off the critical path
    w.log(tool, 149.5, "ERROR", "search timed out after 150 ms")
    return format(root.get_span_context().trace_id, "032x")


def test_local_trace_view_has_tree_timings_critical_path_events_content_and_logs(tmp_path):
    tid = write_trace(tmp_path / "s.db")
    view = load_trace(LocalSource(tmp_path / "s.db"), tid)
    rows = {s["target"]: s for s in view["spans"]}
    assert [(s["target"], s["depth"]) for s in view["spans"]] == [("bot", 0), ("plan", 1), ("gpt-4o", 2), ("search", 1), ("cache", 1)]
    assert view["duration_ms"] == pytest.approx(300) and rows["search"]["offset_ms"] == pytest.approx(100)
    assert rows["gpt-4o"]["duration_ms"] == pytest.approx(80) and (rows["gpt-4o"]["input_tokens"], rows["gpt-4o"]["output_tokens"]) == (1200, 300)
    assert rows["search"]["critical_path_ms"] == pytest.approx(150) and rows["cache"]["critical_path_ms"] is None
    assert rows["search"]["error"] and rows["search"]["error_type"] == "TimeoutError"
    assert rows["search"]["events"][0]["attributes"]["exception.message"] == "search took too long"
    assert rows["search"]["logs"] == [{"offset_ms": pytest.approx(149.5), "severity": "ERROR", "body": "search timed out after 150 ms"}]
    assert rows["gpt-4o"]["content"] == {semconv.GEN_AI_INPUT_MESSAGES: '[{"role": "user", "content": "hi"}]'}
    assert semconv.GEN_AI_INPUT_MESSAGES not in rows["gpt-4o"]["attributes"]


def run_cli(*args):
    """The command in-process (a subprocess per call costs seconds of imports): exit code, stdout, stderr."""
    from typer.testing import CliRunner

    from agent_otel.cli import app

    res = CliRunner().invoke(app, list(args))
    return subprocess.CompletedProcess(args, res.exit_code, res.stdout, res.stderr if hasattr(res, "stderr") else res.output)


def test_trace_command_prints_an_indented_waterfall(tmp_path):
    tid = write_trace(tmp_path / "s.db")
    proc = run_cli("trace", tid, "--source", "local", "--store", str(tmp_path / "s.db"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert f"trace {tid}" in proc.stdout and "300.0 ms" in proc.stdout and "1 failed span" in proc.stdout
    llm = next(line for line in lines if "llm gpt-4o" in line)
    assert llm.startswith("    llm gpt-4o") and "80.0" in llm and "1,200/300" in llm  # depth 2: four spaces
    search = next(line for line in lines if "tool search" in line)
    assert search.startswith("  tool search") and "150.0" in search and "TimeoutError" in search and "█" in search
    below = lines[lines.index(search) + 1 : lines.index(search) + 3]
    assert any("EVENT" in line and "search took too long" in line for line in below)
    assert any("ERROR" in line and "search timed out after 150 ms" in line for line in below)


def test_trace_command_names_a_missing_or_malformed_trace(tmp_path):
    write_trace(tmp_path / "s.db")
    missing = run_cli("trace", "0" * 32, "--source", "local", "--store", str(tmp_path / "s.db"))
    assert missing.returncode == 2 and "not found in local" in missing.stderr and "Traceback" not in missing.stderr
    bad = run_cli("trace", "xyz", "--source", "local", "--store", str(tmp_path / "s.db"))
    assert bad.returncode == 2 and "expected 32 hex digits" in bad.stderr


def test_trace_command_writes_a_standalone_html_waterfall(tmp_path):
    tid = write_trace(tmp_path / "s.db")
    proc = run_cli("trace", tid, "--source", "local", "--store", str(tmp_path / "s.db"), "--format", "html", "-o", str(tmp_path / "t.html"))
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "t.html").read_text()
    assert f'id="trace-{tid}"' in page or f"id='trace-{tid}'" in page
    assert page.count('class="mark span') == 5 and page.count("critical") >= 4 and "search timed out after 150 ms" in page
    assert "http://" not in page and "https://" not in page


# --- the stack source: Jaeger's /api/v3 answer (OTLP JSON) and Loki's query_range -------------

def _otlp_trace(tid: str) -> dict:
    def span(sid, parent, name, kind, start, end, **extra):
        attrs = [{"key": semconv.AGENT_OTEL_KIND, "value": {"stringValue": kind}}, {"key": semconv.AGENT_OTEL_NAME, "value": {"stringValue": name}}]
        attrs += [{"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}} for k, v in extra.items()]
        return {"traceId": tid, "spanId": sid, "parentSpanId": parent, "name": f"{kind} {name}", "kind": 3 if kind == "llm" else 1,
                "startTimeUnixNano": str(T0 + start * MS), "endTimeUnixNano": str(T0 + end * MS), "attributes": attrs,
                "events": [{"timeUnixNano": str(T0 + (end - 1) * MS), "name": "exception", "attributes": [{"key": "exception.message", "value": {"stringValue": "boom"}}]}] if name == "search" else [],
                "status": {"code": 2} if name == "search" else {}}
    spans = [span("a" * 16, "", "bot", "agent", 0, 200), span("b" * 16, "a" * 16, "gpt-4o", "llm", 0, 120, **{semconv.GEN_AI_REQUEST_MODEL: "gpt-4o", semconv.GEN_AI_USAGE_INPUT_TOKENS: 7}),
             span("c" * 16, "a" * 16, "search", "tool", 120, 200)]
    return {"result": {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bot-svc"}}]}, "scopeSpans": [{"spans": spans}]}]}}


class FakeStack(BaseHTTPRequestHandler):
    tid = "ab" * 16
    queries: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        from urllib.parse import parse_qs, urlsplit

        url = urlsplit(self.path)
        if url.path == f"/api/v3/traces/{self.tid}":
            body = _otlp_trace(self.tid)
        elif url.path == "/loki/api/v1/query_range":
            FakeStack.queries.append(parse_qs(url.query)["query"][0])
            body = {"data": {"result": [{"stream": {"service_name": "bot-svc", "severity_text": "error"},
                                         "values": [[str(T0 + 199 * MS), "search failed", {"structuredMetadata": {"trace_id": self.tid, "span_id": "c" * 16}}]]}]}}
        else:
            self.send_response(404)
            self.end_headers()
            return
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


def test_stack_trace_view_reads_jaeger_spans_and_loki_lines():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), FakeStack)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        source = StackSource(jaeger=url, prometheus=None, loki=url)
        view = load_trace(source, FakeStack.tid)
        rows = {s["target"]: s for s in view["spans"]}
        assert [s["target"] for s in view["spans"]] == ["bot", "gpt-4o", "search"]
        assert rows["gpt-4o"]["span_kind"] == "CLIENT" and rows["gpt-4o"]["input_tokens"] == 7
        assert rows["search"]["error"] and rows["search"]["events"][0]["attributes"]["exception.message"] == "boom"
        assert rows["search"]["logs"][0]["body"] == "search failed" and rows["search"]["logs"][0]["severity"] == "ERROR"
        assert f'trace_id="{FakeStack.tid}"' in FakeStack.queries[-1]
        with pytest.raises(SourceError, match="not found in stack"):
            load_trace(source, "cd" * 16)
    finally:
        srv.shutdown()
