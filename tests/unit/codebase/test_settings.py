"""One settings table: every variable agent-otel reads is read through agent_otel.settings and listed
there (docs/settings.md is generated from it), and configure() leaves the environment as it was."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import agent_otel
from agent_otel import semconv, settings

ROOT = Path(agent_otel.__file__).parent


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = []
    for path in ROOT.rglob("*.py"):
        if path.name == "settings.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            # handing the whole environment to a child process ({**os.environ, ...}) is not reading a setting
            if re.search(r"os\.environ(?!\s*,|\s*\})|os\.getenv|os\.putenv", line) and "{**os.environ" not in line:
                readers.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert readers == []


def _names_read() -> set[str]:
    names = set()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called not in ("raw", "flag", "positive_int", "env", "setting"):
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.add(arg.value)
            elif isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == "semconv":
                names.add(getattr(semconv, arg.attr))
    return names


def test_every_agent_otel_variable_read_is_in_the_table() -> None:
    read = _names_read()
    assert {"AGENT_OTEL_STORE", "AGENT_OTEL_STACK_DIR", "AGENT_OTEL_CACHE", "AGENT_OTEL_MAX_CONTENT_LENGTH"} <= read
    ours = {n for n in read if n.startswith("AGENT_OTEL_") or n.startswith("XDG_") or n.startswith("OTEL_INSTRUMENTATION_GENAI")}
    assert ours - set(settings.BY_ENV) == set()
    headers = {f"AGENT_OTEL_{b}_HEADERS" for b in ("JAEGER", "PROMETHEUS", "LOKI")}  # read as AGENT_OTEL_{name}_HEADERS
    assert headers <= set(settings.BY_ENV)


def test_a_bad_value_is_named_with_its_variable(monkeypatch) -> None:
    import pytest

    monkeypatch.setenv("AGENT_OTEL_MAX_CONTENT_LENGTH", "lots")
    with pytest.raises(ValueError, match=r"AGENT_OTEL_MAX_CONTENT_LENGTH='lots': expected a positive integer"):
        settings.positive_int("AGENT_OTEL_MAX_CONTENT_LENGTH")


def test_configure_leaves_the_process_environment_unchanged(tmp_path) -> None:
    code = (
        "import json, os, agent_otel\n"
        "before = dict(os.environ)\n"
        f"agent_otel.configure(service_name='t', exporter='local', store_path={str(tmp_path / 's.db')!r})\n"
        "after = dict(os.environ)\n"
        "from opentelemetry import trace\n"
        "print(json.dumps({'added': sorted(set(after) - set(before)), 'changed': sorted(k for k in before if after.get(k) != before[k]),"
        " 'sdk': type(trace.get_tracer_provider()).__name__}))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED"}
    env["PYTHONPATH"] = str(ROOT.parent)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"added": [], "changed": [], "sdk": "TracerProvider"}
