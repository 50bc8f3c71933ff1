"""One evaluation cycle, as `alerts check` and each tick of `alerts watch` run it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


import yaml

from agent_otel.alerts.evaluate import evaluate
from agent_otel.alerts.notify import Receiver, dispatch, parse_receivers, retry_outbox
from agent_otel.alerts.rules import Rule, RuleError, load_rules
from agent_otel.alerts.state import Alert, AlertStore, inhibited
from agent_otel.analyzer.sources.base import Source
from agent_otel.analyzer.timewindow import parse_duration


@dataclass
class Config:
    rules: list[Rule]
    receivers: list[Receiver]
    group_by: list[str] = field(default_factory=lambda: ["alertname"])
    repeat_interval_s: float = 4 * 3600
    window_s: float = 300


def load_config(path: str | Path) -> Config:
    rules = load_rules(path)
    data = yaml.safe_load(Path(path).read_text())
    route = data.get("route") or {}
    if not isinstance(route, dict):
        raise RuleError(f"{path}: 'route' must be a mapping")
    try:
        repeat = parse_duration(str(route.get("repeat_interval", "4h")), "route.repeat_interval")
        window = parse_duration(str(data.get("window", "5m")), "window")
    except ValueError as exc:
        raise RuleError(f"{path}: {exc}") from None
    group_by = route.get("group_by", ["alertname"])
    if not isinstance(group_by, list) or not all(isinstance(g, str) for g in group_by):
        raise RuleError(f"{path}: route.group_by must be a list of label names")
    return Config(rules, parse_receivers(data.get("receivers"), str(path)), group_by, repeat, window)


@dataclass
class CycleResult:
    firing: list[Alert]
    notified: list[Alert]
    silenced: int
    inhibited: int
    errors: list[str]
    undelivered: int


def run_cycle(config: Config, source: Source, store: AlertStore, *, ignore_for: bool = False, now: float | None = None, service: str | None = None) -> CycleResult:
    instances = evaluate(config.rules, source, window_s=config.window_s, service=service)
    to_notify = store.update(instances, now=now, repeat_interval_s=config.repeat_interval_s, ignore_for=ignore_for,
                             rule_names={r.name for r in config.rules})
    firing = store.firing()
    silenced = [a for a in to_notify if store.silenced(a.labels, now)]
    held = [a for a in to_notify if a not in silenced and a.state == "firing" and inhibited(a, firing)]
    send = [a for a in to_notify if a not in silenced and a not in held]
    undelivered = retry_outbox(store, config.receivers)
    errors = dispatch(store, config.receivers, send, config.group_by) if send else []
    store.mark_notified(send, now)
    return CycleResult(firing, send, len(silenced), len(held), errors, undelivered + len(errors))


__all__ = ["Config", "CycleResult", "load_config", "run_cycle"]
