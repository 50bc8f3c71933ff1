"""`agent-otel stack install | up | down | status`: the real pipeline as local processes."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent_otel.cli.common import fail, stdout_console, user_errors

app = typer.Typer(help="Run the real collector, Jaeger, Prometheus and Loki locally (built from the Go module proxy).", no_args_is_help=True)
console = Console(stderr=True)

DataDir = typer.Option(None, "--data-dir", help="Where configs, data, logs and the pid file go (default: ~/.local/state/agent-otel/stack).")


def _data_dir(value: Optional[Path]) -> Path:
    from agent_otel.stack.state import default_data_dir

    return (value or default_data_dir()).expanduser().resolve()


@app.command()
def install(only: Optional[list[str]] = typer.Argument(None, help="Programs to build (default: all).")) -> None:
    """Build whatever is not cached yet (first time: tens of minutes on 2 cores), with progress."""
    from agent_otel.stack import binaries

    names = only or list(binaries.PROGRAMS)
    unknown = [n for n in names if n not in binaries.PROGRAMS]
    if unknown:
        fail(f"unknown program(s) {', '.join(unknown)}; known: {', '.join(binaries.PROGRAMS)}")
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as progress:
        for name in names:
            program = binaries.PROGRAMS[name]
            if program.installed():
                console.print(f"[green]✓[/green] {name} {program.version} (cached: {program.path})")
                continue
            task = progress.add_task(f"building {name} {program.version} (about {program.minutes} min here)", total=None)
            lines = 0

            def log(line: str, task=task, name=name) -> None:  # noqa: ANN001
                nonlocal lines
                if line.startswith("waiting for the build of"):  # another process builds it: say so, once
                    console.print(line)
                    return
                lines += 1
                progress.update(task, description=f"building {name} ({lines} lines of go output) {line[:60]}")

            try:
                binaries.install(program, log)
            except binaries.BuildError as exc:
                fail(str(exc))
            progress.remove_task(task)
            console.print(f"[green]✓[/green] {name} {program.version} built: {program.path}")


@app.command()
def up(
    data_dir: Optional[Path] = DataDir,
    base_port: Optional[int] = typer.Option(None, help="Use consecutive ports from here instead of the defaults (4317, 4318, 16686, 9090, 3100, ...)."),
    timeout: float = typer.Option(90, help="Seconds each program may take to become healthy."),
    build: bool = typer.Option(True, help="Build missing programs first."),
    alert_rules: Optional[Path] = typer.Option(None, help="agent-otel alert rules (YAML): exported for Prometheus, with Alertmanager started too."),
    alert_webhook: Optional[str] = typer.Option(None, help="Where Alertmanager sends notifications (a webhook URL)."),
    gateways: int = typer.Option(0, min=0, max=16, help="Run N gateway collectors (spanmetrics + tail sampling) behind N agent-tier collectors that forward to them."),
    sample_percent: float = typer.Option(10, min=0, max=100, help="With --gateways: share of the traces that are neither failed nor slow that the gateways keep."),
    slow_ms: int = typer.Option(5000, min=1, help="With --gateways: traces slower than this are always kept."),
) -> None:
    """Start the stack, wait until every program is healthy, print the URLs."""
    from agent_otel.stack import processes

    if build:
        install(None)
    d = _data_dir(data_dir)
    if alert_rules:
        from agent_otel.alerts.export import prometheus_rule_file

        with user_errors():
            prometheus_rules = prometheus_rule_file(alert_rules)
    try:
        ports = processes.Ports.from_base(base_port) if base_port else processes.Ports()
        with console.status("starting...") as status:
            stack = processes.up(d, ports, timeout_s=timeout, alert_rules=prometheus_rules if alert_rules else None, alert_webhook=alert_webhook,
                                 gateways=gateways, sampling={"AGENT_OTEL_SAMPLING_PERCENT": str(sample_percent), "AGENT_OTEL_SAMPLING_SLOW_MS": str(slow_ms)},
                                 log=lambda m: status.update(m))
    except processes.StackError as exc:
        fail(str(exc))
    table = Table(title=f"agent-otel stack ({d})")
    table.add_column("what")
    table.add_column("url")
    for key, url in stack.urls.items():
        table.add_row(key, url)
    stdout_console().print(table)
    stdout_console().print(f"send telemetry: OTEL_EXPORTER_OTLP_ENDPOINT={stack.urls['otlp_grpc']}   stop: agent-otel stack down")


@app.command()
def down(data_dir: Optional[Path] = DataDir) -> None:
    """Stop exactly the processes `up` started from this data dir."""
    from agent_otel.stack import processes

    stopped = processes.down(_data_dir(data_dir))
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command()
def status(data_dir: Optional[Path] = DataDir) -> None:
    """Is each program running and healthy? Exit 1 if not all are."""
    from agent_otel.stack import processes

    rows = processes.status(_data_dir(data_dir))
    if not rows:
        console.print("no stack started from this data dir")
        raise typer.Exit(1)
    table = Table()
    for col in ("program", "pid", "running", "healthy", "log"):
        table.add_column(col)
    for proc, running, ok in rows:
        table.add_row(proc.name, str(proc.pid), "yes" if running else "[red]no[/red]", "yes" if ok else "[red]no[/red]", proc.log)
    stdout_console().print(table)
    if not all(ok for _, _, ok in rows):
        raise typer.Exit(1)
