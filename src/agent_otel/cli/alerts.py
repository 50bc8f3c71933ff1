"""`agent-otel alerts check | watch | export | silence | unsilence | history | audit`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from agent_otel.cli.common import fail, source_options, stdout_console, user_errors

app = typer.Typer(help="Evaluate alert rules over the analyzer's figures; notify; export as Prometheus rules.", no_args_is_help=True)
err = Console(stderr=True)

Rules = typer.Option(Path("alerts.yaml"), "--rules", "-r", help="Rule file (YAML): rules, receivers, route.")
Store = typer.Option(None, help="Local store file (alert state, history, silences and the audit log live there too).")
Source = typer.Option("auto", help="local, stack, or auto.")
RuleSet = typer.Option(None, "--rule-set", help="Name of the rule set whose alert state this check reads and updates (default: the rule file's path). Other sets' alerts are never touched.")


def _config(rules: Path):  # type: ignore[no-untyped-def]
    from agent_otel.alerts.cycle import load_config
    from agent_otel.alerts.notify import ReceiverError
    from agent_otel.alerts.rules import RuleError

    try:
        return load_config(rules)
    except (RuleError, ReceiverError) as exc:
        fail(str(exc))


def _alert_store(store: Optional[str], rules: Optional[Path] = None, config=None, rule_set: Optional[str] = None):  # type: ignore[no-untyped-def]
    """The alert store, its state scoped to the rule set; a changed rule file is written to the audit log first."""
    from agent_otel.alerts.state import AlertStore

    alert_store = AlertStore(store, rule_set or (str(rules.resolve()) if rules is not None else ""))
    if rules is not None and config is not None:
        alert_store.note_rules(str(rules.resolve()), rules.read_text(), [r.name for r in config.rules])
    return alert_store


def _print(result) -> None:  # type: ignore[no-untyped-def]
    table = Table(title="alerts")
    for col in ("state", "alert", "severity", "target", "value", "summary"):
        table.add_column(col)
    for a in result.notified or result.firing:
        table.add_row(a.state, a.labels.get("alertname", ""), a.labels.get("severity", ""),
                      f"{a.labels.get('kind', '')} {a.labels.get('name', a.labels.get('service', ''))}".strip(), f"{a.value:.4g}", a.annotations.get("summary", ""))
    stdout_console().print(table)
    if result.silenced or result.inhibited:
        err.print(f"{result.silenced} silenced, {result.inhibited} inhibited by a critical alert")
    for e in result.errors:
        err.print(f"[red]delivery failed[/red] {e} (kept in the outbox, retried next cycle)")


@app.command()
def check(rules: Path = Rules, store: Optional[str] = Store, source: str = Source, service: Optional[str] = None, rule_set: Optional[str] = RuleSet) -> None:
    """Evaluate once (ignoring `for`); exit 1 when an alert fires (for CI pipelines), 0 when none does."""
    from agent_otel.alerts.cycle import run_cycle

    config = _config(rules)
    with user_errors():
        src = source_options(source, store=store, jaeger=None, prometheus=None, loki=None)
        result = run_cycle(config, src, _alert_store(store, rules, config, rule_set), ignore_for=True, service=service)
    firing = [a for a in result.firing]
    if firing:
        _print(result)
        raise typer.Exit(1)
    err.print(f"no alert fires ({len(config.rules)} rules)")


WATCH_INTERVAL = "2s"  # with the SDK's 100 ms export delay: first bad call -> notification p99 < 5 s (bench/bench_alerts.py)


@app.command()
def watch(
    rules: Path = Rules, store: Optional[str] = Store, source: str = Source, service: Optional[str] = None, rule_set: Optional[str] = RuleSet,
    interval: str = typer.Option(WATCH_INTERVAL, help="Evaluation interval (2 s: a bad call notifies within ~3 s; docs/alerts.md#response-time)."),
    cycles: int = typer.Option(0, help="Stop after this many cycles (0: run until interrupted)."),
) -> None:
    """Keep evaluating: pending -> firing -> resolved, with dedup, grouping, inhibition, silences, retries."""
    from agent_otel.alerts.cycle import run_cycle
    from agent_otel.analyzer.timewindow import parse_duration

    config = _config(rules)
    try:
        every = parse_duration(interval, "--interval")
    except ValueError as exc:
        fail(str(exc))
    alert_store = _alert_store(store, rules, config, rule_set)
    n = 0
    with user_errors():
        src = source_options(source, store=store, jaeger=None, prometheus=None, loki=None)
        while True:
            t0 = time.monotonic()
            result = run_cycle(config, src, alert_store, service=service)
            if result.notified or result.errors:
                _print(result)
            n += 1
            if cycles and n >= cycles:
                return
            time.sleep(max(every - (time.monotonic() - t0), 0))


@app.command()
def export(rules: Path = Rules, fmt: str = typer.Option("prometheus", "--format"), output: Optional[Path] = typer.Option(None, "-o", "--output")) -> None:
    """Write the rules as a Prometheus alerting rule file."""
    from agent_otel.alerts.export import to_prometheus

    if fmt != "prometheus":
        fail(f"--format {fmt!r}: only prometheus is supported")
    text = to_prometheus(_config(rules).rules)
    if output:
        output.write_text(text)
        err.print(f"wrote {output}")
    else:
        print(text)


@app.command()
def silence(
    matchers: list[str] = typer.Argument(..., help="label=value pairs, e.g. alertname=WebSearchSlow severity=warning"),
    duration: str = typer.Option("1h", help="How long the silence lasts."),
    comment: str = typer.Option("", help="Why."),
    by: Optional[str] = typer.Option(None, help="Who (default: the OS user); recorded in the audit log."),
    store: Optional[str] = Store,
) -> None:
    """Silence alerts whose labels match, until the silence expires."""
    from agent_otel.analyzer.timewindow import parse_duration

    pairs = {}
    for m in matchers:
        if "=" not in m:
            fail(f"matcher {m!r}: expected label=value")
        k, v = m.split("=", 1)
        pairs[k] = v
    try:
        seconds = parse_duration(duration, "--duration")
    except ValueError as exc:
        fail(str(exc))
    silence_id = _alert_store(store).silence(pairs, seconds, comment, by)
    err.print(f"silence {silence_id} until {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(time.time() + seconds))}")


@app.command()
def unsilence(silence_id: int, by: Optional[str] = typer.Option(None), store: Optional[str] = Store) -> None:
    """Expire a silence now."""
    _alert_store(store).expire_silence(silence_id, by)


@app.command()
def history(store: Optional[str] = Store, limit: int = 50) -> None:
    """State changes of alerts, newest first."""
    table = Table(title="alert history")
    for col in ("time", "alert", "state", "value"):
        table.add_column(col)
    for ts, name, state, value in _alert_store(store).history(limit):
        table.add_row(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)), name, state, f"{value:.4g}")
    stdout_console().print(table)


@app.command()
def audit(store: Optional[str] = Store, limit: int = 50) -> None:
    """Silences and rule changes: who, what, when."""
    for ts, who, action, detail in _alert_store(store).audit_log(limit):
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(ts))}\t{who}\t{action}\t{detail}")
