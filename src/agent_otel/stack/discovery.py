"""Where telemetry goes, and where to read it, when nobody said: the running local stack, else the store.

`configure()` (its destination) and `agent-otel report` / `alerts` (their source) both call
`auto_choice()`, so an agent and the report agree without flags, and both say what they chose.
`configure()` also notes where data was last written (`note_written`), so a report of an empty or
missing store can say where the data went and the exact command that reads it (`where_to_look`).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from agent_otel import settings
from agent_otel.localstore.store import default_path
from agent_otel.stack.state import default_data_dir, running_urls


@dataclass(frozen=True)
class Choice:
    """The automatic destination/source: `stack` (with its URLs) or `local` (with the store file)."""

    kind: str
    store: Path | None = None
    data_dir: Path | None = None
    urls: dict[str, str] = field(default_factory=dict)

    def otlp_endpoint(self, protocol: str) -> str:
        return self.urls["otlp_http"] if protocol.startswith("http") else self.urls["otlp_grpc"]

    def describe(self) -> str:
        if self.kind == "stack":
            return f"the running local stack (`agent-otel stack up` in {self.data_dir}; OTLP {self.urls.get('otlp_grpc')})"
        return f"the local store {self.store} (no local stack is running)"


def auto_choice(store: str | os.PathLike[str] | None = None) -> Choice:
    """The running local stack when there is one, else the local store (`store` or the default)."""
    data_dir = default_data_dir()
    try:
        urls = running_urls(data_dir)
    except Exception:  # noqa: BLE001 - an unreadable state file is no running stack
        urls = None
    if urls:
        return Choice("stack", data_dir=data_dir, urls=urls)
    return Choice("local", store=Path(store).expanduser() if store else default_path())


def _state_file() -> Path:
    base = settings.raw("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "agent-otel" / "last-write.json"


def note_written(kind: str, where: str, service: str | None) -> None:
    """Remember the destination a process just chose (best effort: never raises)."""
    try:
        path = _state_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"kind": kind, "where": where, "service": service, "at": time.time()}))
        os.replace(tmp, path)
    except Exception:  # noqa: BLE001
        pass


def note_destination(kind: str, endpoint: str | None, store_path: str | None, service: object) -> None:
    """What `configure()` chose, noted when a report can read it: a local store, or the running stack."""
    try:
        if kind == "local":
            note_written("local", str(Path(store_path).expanduser().resolve() if store_path else default_path()), str(service))
        elif kind == "otlp" and endpoint:
            choice = auto_choice()
            if choice.kind == "stack" and endpoint.rstrip("/") in (choice.urls.get("otlp_grpc"), choice.urls.get("otlp_http")):
                note_written("stack", endpoint, str(service))
    except Exception:  # noqa: BLE001
        pass


def last_written() -> dict | None:
    try:
        data = json.loads(_state_file().read_text())
        return data if isinstance(data, dict) and data.get("kind") in ("local", "stack") else None
    except (OSError, ValueError):
        return None


def since_covering(at: float, now: float | None = None) -> str:
    """A `--since` value whose window reaches back to `at` (rounded up, with a minute to spare)."""
    seconds = max((now or time.time()) - at, 0) + 60
    if seconds <= 2 * 3600:
        return f"{math.ceil(seconds / 60)}m"
    if seconds <= 3 * 86400:
        return f"{math.ceil(seconds / 3600)}h"
    return f"{math.ceil(seconds / 86400)}d"


def read_command(kind: str, store: str | os.PathLike[str] | None, since: str) -> str:
    """The `agent-otel report` command that reads `kind` (and `store`) as things are now."""
    parts = ["agent-otel", "report"]
    if kind == "stack":
        parts += ["--source", "stack"]
    else:
        if auto_choice().kind == "stack":
            parts += ["--source", "local"]
        if store and Path(store).expanduser().resolve() != default_path().expanduser().resolve():
            parts += ["--store", str(store)]
    return " ".join([*parts, "--since", since])


def where_to_look() -> str:
    """For an empty or missing source: where data was last written, and the command that reads it."""
    last = last_written()
    if last is None:
        return ("no agent-otel process has noted writing anywhere yet: "
                "run `agent-otel demo`, or an agent that calls agent_otel.configure()")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last["at"]))
    target = "the local stack" if last["kind"] == "stack" else f"the local store {last['where']}"
    by = f" by service {last['service']}" if last.get("service") else ""
    cmd = read_command(last["kind"], last["where"] if last["kind"] == "local" else None, since_covering(last["at"]))
    return f"data was last written to {target}{by} at {when}: read it with `{cmd}`"


__all__ = ["Choice", "auto_choice", "last_written", "note_destination", "note_written", "read_command", "since_covering", "where_to_look"]
