"""The first hour: `demo` then `report` shows the demo; configure() and report agree on where data is.

Each case runs the CLI / an agent in a fresh process with its own XDG directories, as a new user would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent_otel.stack.processes import Ports, Proc, Stack


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """A user's environment with nothing configured: no AGENT_OTEL_* / OTEL_*, own data and state dirs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_STATE_HOME=str(tmp_path / "state"), COLUMNS="200")
    return env


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent_otel.cli", *args], capture_output=True, text=True, timeout=120, env=env)


def agent(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def running_stack(tmp_path: Path, home: dict[str, str]):
    """A stack state file whose program is alive (a `sleep` standing in for the collector)."""
    sleep = shutil.which("sleep")
    proc = subprocess.Popen([sleep, "120"])
    data_dir = Path(home["XDG_STATE_HOME"]) / "agent-otel" / "stack"
    data_dir.mkdir(parents=True)
    stack = Stack(str(data_dir), Ports.free(), [Proc("collector", proc.pid, sleep, str(tmp_path / "log"), "")])
    stack.save()
    yield stack
    proc.kill()
    proc.wait()


def test_demo_then_report_shows_the_demo_in_every_format(tmp_path, home):
    demo = cli(home, "demo", "--runs", "4", "--concurrency", "4")
    assert demo.returncode == 0, demo.stderr
    assert "see it again (also with --format json or html): `agent-otel report --since 1h`" in demo.stderr

    terminal = cli(home, "report")
    assert terminal.returncode == 0, terminal.stderr
    assert "agent-otel-demo" in terminal.stdout or "support-bot" in terminal.stdout
    assert "source: the local store" in terminal.stderr and "(--source auto)" in terminal.stderr

    as_json = cli(home, "report", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert [s["service"] for s in data["services"]] == ["agent-otel-demo"] and data["totals"]["traces"] == 4

    html = cli(home, "report", "--format", "html", "-o", str(tmp_path / "r.html"))
    assert html.returncode == 0, html.stderr
    assert "support-bot" in (tmp_path / "r.html").read_text()


def test_an_empty_or_missing_store_says_where_data_went_and_the_command_that_reads_it(tmp_path, home):
    nothing = cli(home, "report")
    assert nothing.returncode == 2
    assert "does not exist" in nothing.stderr and "run `agent-otel demo`" in nothing.stderr

    store = tmp_path / "elsewhere.db"
    wrote = agent({**home, "AGENT_OTEL_STORE": str(store)}, """
        import agent_otel
        agent_otel.configure("billing")
        with agent_otel.tool("charge"):
            pass
    """)
    assert wrote.returncode == 0, wrote.stderr

    missing = cli(home, "report", "--store", str(tmp_path / "other.db"))
    assert missing.returncode == 2
    line = missing.stderr.replace("\n", " ")
    assert f"data was last written to the local store {store} by service billing" in line, line
    command = re.search(r"read it with `agent-otel (report [^`]+)`", line).group(1).split()
    assert command[:4] == ["report", "--store", str(store), "--since"] and re.fullmatch(r"[1-9][0-9]*m", command[4]), command  # minutes since the write, rounded up, +1
    reads = cli(home, *command, "--format", "json")  # the exact command it printed works
    assert reads.returncode == 0, reads.stderr
    assert json.loads(reads.stdout)["services"][0]["service"] == "billing"

    empty_window = cli(home, "report", "--store", str(store), "--since", "1s")  # the data is seconds old by now
    assert empty_window.returncode == 2
    assert "no spans in the window" in empty_window.stderr
    assert re.search(rf"--store {re.escape(str(store))} --since [1-9][0-9]*m", empty_window.stderr.replace("\n", " ")), empty_window.stderr


def test_configure_and_report_choose_the_local_store_together_and_say_so(tmp_path, home):
    run = agent(home, """
        import agent_otel
        agent_otel.configure("bot")
        print(agent_otel.config.configured_exporter())
        with agent_otel.agent(name="bot"):
            pass
    """)
    assert run.returncode == 0, run.stderr
    store = Path(home["XDG_DATA_HOME"]) / "agent-otel" / "store.db"
    assert run.stdout.strip() == "local"
    assert run.stderr.count("agent-otel: sending telemetry to") == 1
    assert f"sending telemetry to the local store {store} (no local stack is running)" in run.stderr
    report = cli(home, "report", "--format", "json")
    assert report.returncode == 0, report.stderr
    assert f"source: the local store {store}" in report.stderr
    assert json.loads(report.stdout)["services"][0]["service"] == "bot"


def test_configure_and_report_both_choose_a_running_local_stack(home, running_stack):
    run = agent(home, """
        import agent_otel
        from agent_otel import config
        agent_otel.configure("bot")
        print(config.configured_exporter())
        print(config._state.tracer_provider._active_span_processor._span_processors[0]._batch_processor._exporter.exporter._endpoint)  # through the redacting wrapper
        agent_otel.shutdown(timeout_s=0.5)
    """)
    assert run.returncode == 0, run.stderr
    kind, endpoint = run.stdout.split()[:2]
    assert kind == "otlp" and endpoint.endswith(f":{running_stack.ports.otlp_grpc}")
    assert f"sending telemetry to the running local stack (`agent-otel stack up` in {running_stack.data_dir}" in run.stderr
    report = cli(home, "report", "--since", "5m")  # nothing answers on the stack's ports: only the choice matters
    assert f"source: the running local stack (`agent-otel stack up` in {running_stack.data_dir}" in report.stderr


def test_configure_logs_its_choice_through_logging_when_the_app_set_logging_up(home):
    run = agent(home, """
        import logging, agent_otel
        logging.basicConfig(level=logging.INFO, format="LOG %(name)s %(levelname)s %(message)s")
        agent_otel.configure("bot")
    """)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("sending telemetry to") == 1
    assert "LOG agent_otel INFO agent-otel: sending telemetry to the local store" in run.stderr
