"""The real stack for `stack`-marked tests: built if missing, started on free ports, stopped after."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent_otel.stack import binaries, processes


class WebhookReceiver:
    """Alertmanager's webhook target in the tests: keeps every notification it receives."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                outer.bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="session")
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, webhook: WebhookReceiver) -> Iterator[processes.Stack]:
    for program in (binaries.COLLECTOR, binaries.JAEGER, binaries.LOKI, binaries.PROMETHEUS):
        binaries.install(program, lambda _line: None)  # no-op when cached; CI runs `agent-otel stack install` first
    data_dir = tmp_path_factory.mktemp("stack")
    running = processes.up(data_dir, processes.Ports.free(), timeout_s=120,
                           alert_rules=Path(__file__).parent / "alerts.yaml", alert_webhook=webhook.url)
    try:
        yield running
    finally:
        processes.down(data_dir)
