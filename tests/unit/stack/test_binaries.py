"""Building the stack's programs from several processes at once, and after a killed build.

A fake program whose "build" writes a small script stands in for the real Go builds (minutes each);
what is tested is the install protocol around it: the lock, the partial output and the rename.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

FAKE = textwrap.dedent(
    """
    import os, sys, time
    from agent_otel.stack import binaries

    def build(target, log):
        with open(os.environ["BUILDS"], "a") as f:
            f.write(f"{os.getpid()} {target.name}\\n")
        log("compiling")
        target.write_bytes(b"#!/bin/sh\\necho fake-ok\\n")
        time.sleep(float(os.environ.get("SLOW", "0")))
        release = os.environ.get("HOLD_UNTIL")  # the test says when the build may finish
        deadline = time.monotonic() + 60
        while release and not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.02)
        if os.environ.get("FAIL"):
            raise binaries.BuildError("compiler said no")
        os.chmod(target, 0o755)

    prog = binaries.Program("fake", "v1", build, 0, needs_go=False)
    try:
        print("installed", binaries.install(prog, lambda line: print(line, flush=True)), flush=True)
    except binaries.BuildError as exc:
        print("error", exc, flush=True)
        sys.exit(3)
    """
)


def _start(tmp_path: Path, **env: str) -> subprocess.Popen:
    full = {**os.environ, "AGENT_OTEL_CACHE": str(tmp_path / "cache"), "BUILDS": str(tmp_path / "builds"), **env}
    return subprocess.Popen([sys.executable, "-c", FAKE], env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _builds(tmp_path: Path) -> list[str]:
    f = tmp_path / "builds"
    return f.read_text().splitlines() if f.exists() else []


def _wait_for_build(tmp_path: Path, n: int = 1) -> None:
    deadline = time.monotonic() + 30
    while len(_builds(tmp_path)) < n:
        assert time.monotonic() < deadline, "the fake build never started"
        time.sleep(0.05)


def _bin(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "bin"


def test_two_processes_build_once_and_both_get_the_binary(tmp_path):
    release = tmp_path / "release"
    # The first build holds until the second process has said it waits: no race on a busy machine.
    first = _start(tmp_path, HOLD_UNTIL=str(release))
    _wait_for_build(tmp_path)
    second = _start(tmp_path)
    waiting_line = second.stdout.readline()  # blocks until the second process reaches the lock
    release.touch()
    out1, _ = first.communicate(timeout=60)
    out2, _ = second.communicate(timeout=60)
    out2 = waiting_line + out2
    assert first.returncode == 0 and second.returncode == 0, (out1, out2)
    builds = _builds(tmp_path)
    assert len(builds) == 1, builds  # the second process waited and reused the first one's binary
    pid, partial = builds[0].split()
    assert int(pid) == first.pid
    assert re.fullmatch(rf"fake-v1\.partial-{first.pid}-[0-9a-f]{{8}}", partial)  # unique to that build
    assert f"waiting for the build of fake v1 by pid {first.pid}" in out2
    binary = _bin(tmp_path) / "fake-v1"
    assert f"installed {binary}" in out1 and f"installed {binary}" in out2
    assert subprocess.run([str(binary)], capture_output=True, text=True).stdout.strip() == "fake-ok"
    assert sorted(p.name for p in _bin(tmp_path).iterdir() if not p.name.startswith(".")) == ["fake-v1"]


def test_a_killed_build_leaves_nothing_trusted_and_the_next_run_builds_again(tmp_path):
    killed = _start(tmp_path, SLOW="60")
    _wait_for_build(tmp_path)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=10)
    leftovers = [p.name for p in _bin(tmp_path).iterdir() if not p.name.startswith(".")]
    assert leftovers and all(".partial-" in n for n in leftovers), leftovers  # never the binary's own name
    assert not (_bin(tmp_path) / "fake-v1").exists()

    again = _start(tmp_path)
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 0, out
    assert len(_builds(tmp_path)) == 2  # rebuilt, the killed output was not taken for a binary
    assert sorted(p.name for p in _bin(tmp_path).iterdir() if not p.name.startswith(".")) == ["fake-v1"]


def test_a_failed_build_names_its_log_and_leaves_no_output(tmp_path):
    failed = _start(tmp_path, FAIL="1")
    out, _ = failed.communicate(timeout=60)
    assert failed.returncode == 3, out
    log = tmp_path / "cache" / "logs" / "build-fake-v1.log"
    assert "building fake v1 failed: compiler said no" in out and str(log) in out
    assert "compiling" in log.read_text()
    assert [p.name for p in _bin(tmp_path).iterdir() if not p.name.startswith(".")] == []


@pytest.mark.parametrize("selected", ["stack", "not stack"])
def test_pytest_builds_the_stack_programs_before_any_test_only_when_stack_tests_run(tmp_path, selected):
    """The session-start hook of tests/stack/conftest.py: a progress line per program, before tests."""
    root = Path(__file__).resolve().parents[3]
    fake_go = tmp_path / "gobin"
    fake_go.mkdir()
    (fake_go / "go").write_text("#!/bin/sh\nexit 1\n")  # `go` is present but every build fails fast
    (fake_go / "go").chmod(0o755)
    env = {**os.environ, "AGENT_OTEL_CACHE": str(tmp_path / "cache"), "PATH": f"{fake_go}:{os.environ['PATH']}"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", selected, "tests/stack/test_pipeline.py", "-x", "-k", "validate"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120,
    )
    out = proc.stdout + proc.stderr
    if selected == "stack":
        for name in ("collector", "jaeger", "loki", "prometheus", "promtool"):
            assert re.search(rf"agent-otel: building {name} \S+ .*", out), out
        assert "agent-otel: building collector failed" in out, out
        assert "stack programs could not be built: collector" in out, out  # the test fails on it, not on a timeout
        assert "Timeout" not in out
    else:
        assert "agent-otel: building" not in out, out
