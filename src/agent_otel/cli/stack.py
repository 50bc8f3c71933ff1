"""`agent-otel stack` (placeholder until its issue lands)."""

import typer

app = typer.Typer(help="stack (not built yet)", no_args_is_help=True)


@app.command("todo")
def todo() -> None:
    raise typer.Exit(code=2)
