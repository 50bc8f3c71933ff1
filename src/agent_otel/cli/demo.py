"""`agent-otel demo` (placeholder until its issue lands)."""

import typer


def demo() -> None:
    """Not built yet."""
    raise typer.Exit(code=2)
