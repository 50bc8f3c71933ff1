"""The real stack for `stack`-marked tests: built if missing, started on free ports, stopped after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent_otel.stack import binaries, processes


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[processes.Stack]:
    for program in (binaries.COLLECTOR, binaries.JAEGER, binaries.LOKI, binaries.PROMETHEUS):
        binaries.install(program, lambda _line: None)  # no-op when cached; CI runs `agent-otel stack install` first
    data_dir = tmp_path_factory.mktemp("stack")
    running = processes.up(data_dir, processes.Ports.free(), timeout_s=120)
    try:
        yield running
    finally:
        processes.down(data_dir)
