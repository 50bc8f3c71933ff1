"""The rich console results are printed on: the renderers and the CLI share it."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console


def stdout_console() -> Console:
    """The console for results: wide when piped or captured, so tables are not squeezed to 80 columns."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


def write_output(text: str, output: Path | None) -> None:
    """A rendered report or trace: to `output` (a line on stderr says where and how much), else stdout."""
    if output:
        output.write_text(text)
        Console(stderr=True).print(f"wrote {output} ({len(text):,} bytes)")
    else:
        sys.stdout.write(text + "\n")
