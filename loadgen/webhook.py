"""A webhook target on 127.0.0.1 for Alertmanager and `agent-otel alerts` in stack tests and benches:
keeps every notification with its arrival time."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.first_firing: dict[str, float] = {}  # alertname -> arrival time of its first "firing" notification
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                now = time.time()
                outer.bodies.append(body)
                if body.get("status") == "firing":
                    for alert in body.get("alerts", []):
                        outer.first_firing.setdefault(alert["labels"]["alertname"], now)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
