"""Backend answers a report can meet in the wild — wrong JSON, wrong shape, huge, slow, trickling,
refused — end in a SourceError that names the backend, within the timeout; credentials reach the
backend and appear in no message or log line."""

from __future__ import annotations

import base64
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent_otel.analyzer.sources.base import SourceError
from agent_otel.analyzer.sources.http import Backend
from agent_otel.analyzer.sources.jaeger import Jaeger
from agent_otel.analyzer.sources.loki import Loki
from agent_otel.analyzer.sources.prometheus import Prometheus

SECRET = "s3cr3t-value"


class Hostile(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802
        Hostile.seen.append(dict(self.headers))
        path = self.path.split("?")[0]
        path = "/api/v3/traces" if path.startswith("/api/v3/traces") else path
        if path == "/slow":
            time.sleep(5)
        if path == "/trickle":
            self.send_response(200)
            self.end_headers()
            for _ in range(40):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.25)
            return
        status, body = {
            "/html": (200, b"<html>proxy login</html>"),
            "/huge": (200, b"[" + b"1," * 600_000 + b"1]"),
            "/denied": (401, b"no"),
            "/boom": (500, b"internal error"),
            "/api/v1/query": (200, b'{"status": "success", "data": {"result": "not-a-list"}}'),
            "/loki/api/v1/query_range": (200, b'{"data": {"result": [{"stream": {}, "values": [["x"]]}]}}'),
            "/api/v3/traces": (200, b'{"result": {"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "!!", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}]}]}]}}'),
        }.get(path, (200, b"{}"))
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/html", "prometheus at http://127.0.0.1:.*/html: malformed JSON answer"),
        ("/huge", "answer larger than 1,000,000 bytes, refused"),
        ("/slow", "no answer within 1.0s"),
        ("/trickle", "answer not complete within 1.0s"),
        ("/denied", "HTTP 401: credentials missing or refused"),
        ("/boom", "HTTP 500: internal error"),
    ],
)
def test_hostile_answers_end_in_a_named_error_within_the_timeout(server, path, message):
    api = Backend("prometheus", server, timeout_s=1.0, max_body=1_000_000)
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=message):
        api.get_json(path)
    assert time.monotonic() - t0 < 3.0


def test_wrong_shapes_from_each_backend_are_named(server):
    with pytest.raises(SourceError, match="prometheus: query 'up': malformed answer"):
        Prometheus(server).query("up")
    with pytest.raises(SourceError, match="loki: query .*: malformed answer"):
        Loki(server).query_range('{a="b"}', 0, 1)
    with pytest.raises(SourceError, match="loki: query .*count_over_time.*: malformed answer"):  # the evaluation scores' LogQL
        from agent_otel.analyzer.evaluations import loki_cells

        loki_cells(Loki(server), 0, 10**9, "bot")
    with pytest.raises(SourceError, match="jaeger: span id .!!. is neither hex nor base64 of 8 bytes"):
        Jaeger(server).trace("abc")


def test_credentials_are_sent_but_never_shown(server, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AGENT_OTEL_PROMETHEUS_HEADERS", f"Authorization=Bearer%20{SECRET}")
    user_url = server.replace("http://", f"http://reader:{SECRET}@")
    Hostile.seen.clear()
    for url in (server, user_url):
        with pytest.raises(SourceError) as err:
            Backend("prometheus", url, headers={"X-Scope-OrgID": "team-a"}).get_json("/boom")
        assert SECRET not in str(err.value)
    assert Hostile.seen[0]["Authorization"] == f"Bearer {SECRET}" and Hostile.seen[0]["X-Scope-OrgID"] == "team-a"
    # user-info becomes basic auth (the env header of the same name wins: one Authorization is sent)
    assert "***@127.0.0.1" in str(err.value)
    monkeypatch.delenv("AGENT_OTEL_PROMETHEUS_HEADERS")
    with pytest.raises(SourceError):
        Backend("prometheus", user_url).get_json("/boom")
    assert Hostile.seen[-1]["Authorization"] == "Basic " + base64.b64encode(f"reader:{SECRET}".encode()).decode()
    assert SECRET not in caplog.text


def test_malformed_header_env_is_named_without_its_value(monkeypatch):
    monkeypatch.setenv("AGENT_OTEL_LOKI_HEADERS", f"X-Scope-OrgID=a,{SECRET}")
    with pytest.raises(SourceError, match=r"AGENT_OTEL_LOKI_HEADERS: entry 2 is not key=value \(value not shown\)") as err:
        Backend("loki", "http://127.0.0.1:9")
    assert SECRET not in str(err.value)


def test_jaeger_spans_missing_fields_are_a_named_error(server):
    with pytest.raises(SourceError, match="jaeger: malformed span in the answer for 'svc'"):
        Jaeger(server).find("svc", 0, 10)
