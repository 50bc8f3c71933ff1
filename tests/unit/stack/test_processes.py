"""The stack's failure modes a user meets first: busy ports, missing builds, bad options, stray pids."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from agent_otel.stack import binaries, processes


def test_port_in_use_names_the_port(tmp_path, monkeypatch):
    monkeypatch.setattr(binaries.Program, "installed", lambda self: True)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = processes.Ports.free()
        ports.prometheus = port
        with pytest.raises(processes.StackError, match=rf"port\(s\) in use on 127.0.0.1: prometheus {port}"):
            processes.up(tmp_path, ports)
    assert processes.status(tmp_path) == []  # nothing was started


def test_missing_binaries_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENT_OTEL_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(processes.StackError, match="not built yet: collector, jaeger, loki, prometheus"):
        processes.up(tmp_path / "data", processes.Ports.free())


def test_program_that_dies_at_start_is_reported_with_its_log_and_nothing_is_left(tmp_path, monkeypatch):
    monkeypatch.setattr(binaries.Program, "installed", lambda self: True)
    fake = tmp_path / "crashing-jaeger"
    fake.write_text("#!/bin/sh\necho 'bad config line 3' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(binaries.Program, "path", property(lambda self: fake))
    with pytest.raises(processes.StackError, match=r"jaeger exited with code 3 while starting; see its log: .*jaeger.log"):
        processes.up(tmp_path / "data", processes.Ports.free(), timeout_s=5)
    assert "bad config line 3" in (tmp_path / "data" / "logs" / "jaeger.log").read_text()
    assert processes.status(tmp_path / "data") == []


def test_down_leaves_a_reused_pid_alone(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        stack = processes.Stack(str(tmp_path), processes.Ports(), [processes.Proc("jaeger", other.pid, "/not/our/jaeger", "x.log", "http://x")])
        stack.save()
        assert processes.down(tmp_path) == []
        assert other.poll() is None
    finally:
        other.kill()


def test_base_port_out_of_range():
    with pytest.raises(processes.StackError, match="--base-port 80"):
        processes.Ports.from_base(80)
    assert processes.Ports.from_base(20000).loki == 20000 + 10


def test_cli_unknown_program_is_one_line():
    proc = subprocess.run([sys.executable, "-m", "agent_otel.cli", "stack", "install", "grafana"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown program(s) grafana" in proc.stderr and "Traceback" not in proc.stderr
