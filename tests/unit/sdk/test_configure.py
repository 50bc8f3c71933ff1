"""configure() in a fresh process each time (OpenTelemetry's global providers are set once per process)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time


def run(code: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, env={**clean, **(env or {})})

class OtlpHttpSink:
    """A local OTLP/HTTP endpoint that accepts every export and keeps its headers and body."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        self.bodies: list[bytes] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                sink.bodies.append(self.rfile.read(int(self.headers.get("content-length") or 0)))
                sink.headers.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@contextlib.contextmanager
def otlp_http_sink() -> Iterator[OtlpHttpSink]:
    sink = OtlpHttpSink()
    try:
        yield sink
    finally:
        sink.server.shutdown()



def test_default_without_endpoint_is_the_local_store(tmp_path):
    proc = run(
        """
        import logging
        import agent_otel
        agent_otel.configure("svc")
        print(agent_otel.config.configured_exporter())
        with agent_otel.tool("t"):
            logging.getLogger("app").warning("in the tool")
        """,
        env={"AGENT_OTEL_STORE": str(tmp_path / "s.db")},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "local"
    # flushed at exit without an explicit shutdown(), on every Python (3.12+ starts no thread at exit)
    assert "Traceback" not in proc.stderr, proc.stderr
    db = sqlite3.connect(tmp_path / "s.db")
    assert db.execute("SELECT name, service FROM spans").fetchall() == [("execute_tool t", "svc")]
    assert db.execute("SELECT body FROM logs").fetchall() == [("in the tool",)]


def test_exit_export_starts_no_thread(tmp_path):
    """Python 3.12+ refuses new threads while atexit hooks run; made so here on every version for
    agent-otel's own exit hook alone, which must still store what was recorded, within its timeout."""
    proc = run(
        """
        import atexit, logging, threading
        start = threading.Thread.start
        atexit.register(lambda: setattr(threading.Thread, "start", start))  # runs after agent-otel's hook
        import agent_otel
        agent_otel.configure("svc")
        with agent_otel.tool("t"):
            logging.getLogger("app").warning("in the tool")

        def refuse(self):
            raise RuntimeError("can't create new thread at interpreter shutdown")

        atexit.register(lambda: setattr(threading.Thread, "start", refuse))  # runs before it
        """,
        env={"AGENT_OTEL_STORE": str(tmp_path / "s.db")},
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    db = sqlite3.connect(tmp_path / "s.db")
    assert db.execute("SELECT name FROM spans").fetchall() == [("execute_tool t",)]
    assert db.execute("SELECT body FROM logs").fetchall() == [("in the tool",)]


def test_env_endpoint_selects_otlp_and_second_configure_is_a_warning(tmp_path):
    proc = run(
        """
        import agent_otel
        agent_otel.configure()
        agent_otel.configure(exporter="console")
        print(agent_otel.config.configured_exporter())
        """,
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SERVICE_NAME": "envsvc"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "otlp"
    assert "already called" in proc.stderr


def test_bad_values_name_the_option():
    for code, message in (
        ('agent_otel.configure(exporter="kafka")', "exporter: expected one of otlp, local, console, none, auto, got 'kafka'"),
        ('agent_otel.configure(sample_ratio=2)', "sample_ratio: expected a number between 0 and 1, got 2"),
        ('agent_otel.configure(protocol="udp")', "got 'udp'"),
        ('agent_otel.configure(headers="novalue")', "headers: entry 1 is not key=value (value not shown)"),
    ):
        proc = run(f"import agent_otel\n{code}")
        assert proc.returncode == 1 and message in proc.stderr, (code, proc.stderr)


def test_unreachable_collector_costs_bounded_memory_and_a_prompt_exit(tmp_path):
    out = tmp_path / "out.json"
    proc = run(
        f"""
        import json, time, resource
        import agent_otel
        from agent_otel import config
        agent_otel.configure("down", endpoint="http://127.0.0.1:9", max_queue_size=500)
        step = agent_otel.step("busy")(lambda: None)
        for _ in range(20000):
            step()
        processor = config._state.tracer_provider._active_span_processor._span_processors[0]
        queued = len(processor._batch_processor._queue)
        t0 = time.monotonic()
        agent_otel.shutdown()
        json.dump({{"queued": queued, "shutdown_s": time.monotonic() - t0}}, open({str(out)!r}, "w"))
        print("app finished")
        """,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr
    assert "app finished" in proc.stdout
    data = json.loads(out.read_text())
    assert data["queued"] <= 500  # the queue bound holds: the rest is dropped, not buffered
    assert data["shutdown_s"] < 30


def test_exit_with_a_collector_that_never_answers_is_bounded_by_the_shutdown_timeout(tmp_path):
    """A collector that accepts connections and never replies (the worst case) must not hold the
    app's exit: the atexit shutdown gives up after its timeout and says what it dropped."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: [held.append(server.accept()[0]) for _ in range(64)], daemon=True).start()
    port = server.getsockname()[1]
    t0 = time.monotonic()
    proc = run(
        f"""
        import logging, threading
        import agent_otel
        agent_otel.configure("blackhole", endpoint="http://127.0.0.1:{port}", metric_interval=0.5)
        work = agent_otel.step("busy")(lambda: logging.getLogger("x").warning("busy"))
        threads = [threading.Thread(target=lambda: [work() for _ in range(3000)]) for _ in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print("app finished")
        """,
        timeout=120,
    )
    elapsed = time.monotonic() - t0
    server.close()
    assert proc.returncode == 0, proc.stderr
    assert "app finished" in proc.stdout
    assert "shutdown gave up after 5.0s" in proc.stderr
    assert elapsed < 30, f"exit took {elapsed:.1f}s"


def test_token_is_sent_as_bearer_header_and_never_echoed(tmp_path):
    with otlp_http_sink() as sink:
        proc = run(
            f"""
            import logging
            import agent_otel
            logging.basicConfig(level=logging.DEBUG)
            agent_otel.configure("tok", endpoint="{sink.url}", protocol="http/protobuf")
            with agent_otel.tool("t"):
                pass
            agent_otel.shutdown()
            """,
            env={"AGENT_OTEL_TOKEN": "s3cr3t-t0ken"},
        )
    seen = [h.get("authorization") for h in sink.headers]
    bodies = sink.bodies
    assert proc.returncode == 0, proc.stderr
    assert seen and set(seen) == {"Bearer s3cr3t-t0ken"}
    assert any(b"execute_tool t" in body for body in bodies) and not any(b"s3cr3t" in body for body in bodies)
    assert "s3cr3t" not in proc.stdout + proc.stderr  # agent-otel logs nothing of it
    # A bad token: the error names the option and never the value. The script catches it, so what
    # is checked is agent-otel's message and logs, not a traceback quoting the script's own source.
    bad = run(
        """
        import logging
        import agent_otel
        logging.basicConfig(level=logging.DEBUG)
        try:
            agent_otel.configure(endpoint="http://127.0.0.1:9", token="two words-s3cr3t")
        except agent_otel.ConfigError as exc:
            print(exc)
        """
    )
    assert bad.returncode == 0, bad.stderr
    assert bad.stdout.startswith("token (AGENT_OTEL_TOKEN): must be")
    assert "s3cr3t" not in bad.stdout + bad.stderr
