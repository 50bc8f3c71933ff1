"""`agent-otel optimize` (placeholder until its issue lands)."""

import typer


def optimize() -> None:
    """Not built yet."""
    raise typer.Exit(code=2)
