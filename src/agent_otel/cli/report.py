"""`agent-otel report` (placeholder until its issue lands)."""

import typer


def report() -> None:
    """Not built yet."""
    raise typer.Exit(code=2)
