"""What every sub-command shares: one-line errors with a non-zero exit, and picking a source."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NoReturn

import httpx
import typer
from rich.console import Console

from agent_otel.analyzer.render.console import stdout_console  # noqa: F401  (the CLI's commands print on it)

# Options several commands share (one definition, one help text).
SOURCE = typer.Option("auto", help="local, stack, or auto (the running stack if `agent-otel stack up` ran, else local).")
STORE = typer.Option(None, help="Local store file (default: $AGENT_OTEL_STORE or ~/.local/share/agent-otel/store.db).")
JAEGER = typer.Option(None, help="Jaeger query URL (stack source).")
FORMAT = typer.Option("terminal", "--format", help="terminal, json or html.")
OUTPUT = typer.Option(None, "-o", "--output", help="Write json/html here instead of stdout.")

_err = Console(stderr=True, highlight=False, soft_wrap=True)  # an error stays one line, however long


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` on stderr and exit non-zero, no traceback."""
    _err.print(f"[bold red]error:[/bold red] {message}", markup=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can cause or fix (bad input, unreachable backend) into `fail`."""
    from agent_otel.analyzer.pricing import PriceError
    from agent_otel.analyzer.sources.base import SourceError
    from agent_otel.config import ConfigError

    try:
        yield
    except (SourceError, PriceError, ConfigError, ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    except httpx.HTTPError as exc:
        fail(f"{type(exc).__name__} talking to {getattr(exc, 'request', None) and exc.request.url}: {exc}")
    except OSError as exc:
        fail(f"{exc}")


def source_options(kind: str, *, store: str | None, jaeger: str | None, prometheus: str | None, loki: str | None, headers: list[str] | None = None, announce: bool = True):  # type: ignore[no-untyped-def]
    """Open the source a command asked for; `auto` is the running local stack if there is one (a line says which)."""
    from agent_otel.analyzer.sources import open_source

    if kind not in ("auto", "local", "stack"):
        fail(f"--source {kind!r}: expected auto, local or stack")
    if jaeger or prometheus or loki:
        if kind == "local":
            fail("--jaeger/--prometheus/--loki go with --source stack, not --source local")
        kind = "stack"
    elif kind in ("auto", "stack"):
        from agent_otel.stack.discovery import auto_choice

        choice = auto_choice(store)  # the same choice configure() makes for an agent
        if choice.kind == "stack":
            jaeger, prometheus, loki = choice.urls.get("jaeger_query"), choice.urls.get("prometheus"), choice.urls.get("loki")
        elif kind == "stack":
            fail("--source stack: no running stack found (start one with `agent-otel stack up`) and no --jaeger/--prometheus/--loki given")
        if kind == "auto" and announce:
            _err.print(f"source: {choice.describe()} (--source auto)")
        kind = choice.kind
    from agent_otel.headers import parse_headers

    with user_errors():
        header_map = parse_headers(headers or [], "--header")
    return open_source(kind, store=store, jaeger=jaeger, prometheus=prometheus, loki=loki, headers=header_map or None)

