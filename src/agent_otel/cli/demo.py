"""`agent-otel demo`: run the sample agent through the SDK, then print its report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from agent_otel.cli.common import fail, user_errors

err = Console(stderr=True)


def demo(
    runs: int = typer.Option(40, min=1, max=100_000, help="How many tickets the agent handles."),
    concurrency: int = typer.Option(8, min=1, max=1000, help="Tickets handled at once."),
    store: Optional[Path] = typer.Option(None, help="Local store file (default: the one `agent-otel report` reads, $AGENT_OTEL_STORE or ~/.local/share/agent-otel/store.db)."),
    stack: bool = typer.Option(False, "--stack", help="Send through the running local stack (`agent-otel stack up`) and report from its backends."),
    fmt: str = typer.Option("terminal", "--format", help="terminal, json or html."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write json/html here."),
    slow_factor: float = typer.Option(1.0, min=0.01, max=100.0, help="Scale all simulated latencies (e.g. 1.5 to make a regression)."),
    seed: int = typer.Option(7, help="Seed of simulated latencies and failures."),
) -> None:
    """A multi-step sample agent (planner, tools, model calls, some failures and slow calls), then its report."""
    import agent_otel
    from agent_otel import demo as sample
    from agent_otel.cli.run import make_report, write_report
    from agent_otel.analyzer.sources import open_source

    if fmt not in ("terminal", "json", "html"):
        fail(f"--format {fmt!r}: expected terminal, json or html")
    with user_errors():
        if stack:
            from agent_otel.stack.state import running_urls

            urls = running_urls()
            if not urls:
                fail("--stack: no running stack found; start it with `agent-otel stack up`")
            agent_otel.configure("agent-otel-demo", exporter="otlp", endpoint=urls["otlp_grpc"], metric_interval=2, resource_metrics=_has_resources())
        else:
            if store is None:
                from agent_otel.localstore.store import default_path

                store = default_path()
            agent_otel.configure("agent-otel-demo", exporter="local", store_path=str(store), metric_interval=1, resource_metrics=_has_resources())
        with err.status(f"running the sample agent: {runs} tickets, {concurrency} at a time..."):
            start, end, answered = sample.run(runs, concurrency, slow_factor=slow_factor, seed=seed)
        err.print(f"agent answered {answered}/{runs} tickets" + (f"; telemetry in {store}" if store else ""))
        if stack:
            source = _wait_for_stack(urls, start, end)
        else:
            source = open_source("local", store=str(store))
        rep = make_report(source, start_ns=start, end_ns=end, service="agent-otel-demo", console=err)
        write_report(rep, fmt, output)
        agent_otel.shutdown()
        from agent_otel.stack.discovery import read_command

        err.print(f"see it again (also with --format json or html): `{read_command('stack' if stack else 'local', store, '1h')}`", highlight=False)


def _has_resources() -> bool:
    try:
        from agent_otel.resources import start_resource_metrics  # noqa: F401
    except ImportError:
        return False
    return True


def _wait_for_stack(urls: dict[str, str], start: int, end: int):  # type: ignore[no-untyped-def]
    """The collector batches and Jaeger indexes: wait until the demo's traces are queryable."""
    import time

    from agent_otel.analyzer.sources import open_source

    source = open_source("stack", jaeger=urls.get("jaeger_query"), prometheus=urls.get("prometheus"), loki=urls.get("loki"))
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if len(source.spans(start, end, "agent-otel-demo")) > 0:
                time.sleep(2)
                return source
        except Exception:  # noqa: BLE001 - not there yet
            pass
        time.sleep(1)
    return source
