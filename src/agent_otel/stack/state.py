"""Where the local stack keeps its data, and whether one is running (for `report --source auto`)."""

from __future__ import annotations

from pathlib import Path

from agent_otel import settings


def default_data_dir() -> Path:
    env = settings.raw("AGENT_OTEL_STACK_DIR")
    if env:
        return Path(env).expanduser()
    base = settings.raw("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "agent-otel" / "stack"


def running_urls(data_dir: str | Path | None = None) -> dict[str, str] | None:
    """URLs of the stack started from `data_dir` when all its programs still run, else None."""
    from agent_otel.stack.processes import Stack, alive

    stack = Stack.load(Path(data_dir or default_data_dir()).expanduser().resolve())
    if stack is None or not stack.procs or not all(alive(p) for p in stack.procs):
        return None
    return stack.urls
