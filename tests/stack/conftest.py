"""The real stack for `stack`-marked tests: built if missing, started on free ports, stopped after.

The programs are built when the session starts (`pytest_collection_finish`, only when stack tests
are selected), before any test's timeout runs: a first run on an empty cache takes minutes per
program, which no per-test timeout should have to cover. A failed build fails the stack tests
with its message, without building again inside each test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_otel.alerts.export import prometheus_rule_file
from agent_otel.stack import binaries, processes
from loadgen.webhook import WebhookReceiver

_BUILD_ERRORS = pytest.StashKey[dict[str, str]]()
STACK_PROGRAMS = (binaries.COLLECTOR, binaries.JAEGER, binaries.LOKI, binaries.PROMETHEUS, binaries.PROMTOOL)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the missing programs now, one progress line per program, when stack tests will run."""
    if session.config.option.collectonly or not any(item.get_closest_marker("stack") for item in session.items):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    write = reporter.write_line if reporter else print
    errors: dict[str, str] = {}
    for program in STACK_PROGRAMS:
        if program.installed():
            continue
        write(f"agent-otel: building {program.name} {program.version} for the stack tests (about {program.minutes} min here; "
              f"log: {binaries.cache_root() / 'logs' / f'build-{program.name}-{program.version}.log'})")
        t0 = time.monotonic()
        try:
            binaries.install(program, lambda _line: None)
        except binaries.BuildError as exc:
            errors[program.name] = str(exc)
            write(f"agent-otel: building {program.name} failed: {exc}")
            continue
        write(f"agent-otel: built {program.name} in {time.monotonic() - t0:.0f}s: {program.path}")
    session.config.stash[_BUILD_ERRORS] = errors


def require_programs(config: pytest.Config, *programs: binaries.Program) -> None:
    """Fail (not time out) a stack test whose programs could not be built at session start."""
    errors = config.stash.get(_BUILD_ERRORS, {})
    failed = [f"{p.name}: {errors[p.name]}" for p in programs if p.name in errors]
    if failed:
        pytest.fail("stack programs could not be built: " + "; ".join(failed), pytrace=False)
    for program in programs:
        binaries.install(program, lambda _line: None)  # no-op when built at session start


@pytest.fixture(scope="session")
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, webhook: WebhookReceiver) -> Iterator[processes.Stack]:
    require_programs(request.config, binaries.COLLECTOR, binaries.JAEGER, binaries.LOKI, binaries.PROMETHEUS)
    data_dir = tmp_path_factory.mktemp("stack")
    running = processes.up(data_dir, processes.Ports.free(), timeout_s=120,
                           alert_rules=prometheus_rule_file(Path(__file__).parent / "alerts.yaml"), alert_webhook=webhook.url)
    try:
        yield running
    finally:
        processes.down(data_dir)
