"""The rich console results are printed on: the renderers and the CLI share it."""

from __future__ import annotations

from rich.console import Console


def stdout_console() -> Console:
    """The console for results: wide when piped or captured, so tables are not squeezed to 80 columns."""
    console = Console()
    return console if console.is_terminal else Console(width=160)
