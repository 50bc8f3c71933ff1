"""The `agent-otel` command: one Typer app, one module per sub-command."""

from __future__ import annotations

import typer

from agent_otel.cli import alerts, demo, optimize, report, stack, trace

app = typer.Typer(
    name="agent-otel",
    help="Observe and speed up AI agents with OpenTelemetry.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("demo")(demo.demo)
app.command("report")(report.report)
app.command("optimize")(optimize.optimize)
app.command("trace")(trace.trace)
app.add_typer(stack.app, name="stack")
app.add_typer(alerts.app, name="alerts")


def main() -> None:
    app()
