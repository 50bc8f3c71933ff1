"""Alert rules in YAML, validated as a whole before anything is evaluated.

Every `figure` and every `select` key and kind is checked against what the report produces
(alerts/figures.py): a typo is an error naming the file, rule, field, value and nearest valid ones.

    rules:
      - name: WebSearchSlow
        type: threshold                 # threshold | slo | regression
        select: {kind: tool, name: web_search}   # a report group; omit for the window's totals
        figure: latency_ms.p95          # any figure of the report (see docs/report-schema.md)
        op: ">"
        value: 2000
        for: 1m
        severity: warning               # info | warning | critical
        labels: {team: agents}
        annotations:
          summary: "{{ name }} p95 is {{ value }} ms (threshold {{ threshold }})"
      - name: SupportBotAvailability
        type: slo
        select: {kind: agent, name: support-bot}
        objective: 0.99                 # SRE-workbook multiwindow, multi-burn-rate alerts
      - name: ToolRegression
        type: regression
        select: {kind: tool}            # every tool group
        baseline: 24h..1h
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent_otel.alerts.figures import check_figure, check_select
from agent_otel.analyzer.timewindow import parse_duration
from agent_otel.errors import RuleError  # noqa: F401  (re-exported)

SEVERITIES = ("info", "warning", "critical")
OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne}
TYPES = ("threshold", "slo", "regression")
SCOPES = ("groups", "totals", "resources", "services")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_:\-]*$")

# SRE workbook, "Alerting on SLOs", multiwindow multi-burn-rate: (severity, long, short, burn factor)
SLO_WINDOWS: tuple[tuple[str, str, str, float], ...] = (
    ("critical", "1h", "5m", 14.4),
    ("critical", "6h", "30m", 6.0),
    ("warning", "3d", "6h", 1.0),
)


@dataclass(frozen=True)
class Rule:
    name: str
    type: str
    severity: str = "warning"
    select: dict[str, str] = field(default_factory=dict)
    scope: str = "groups"
    figure: str = ""
    op: str = ">"
    value: float = 0.0
    for_s: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    objective: float | None = None
    windows: tuple[tuple[str, str, str, float], ...] = SLO_WINDOWS
    baseline: str = "24h..1h"

    def compare(self, observed: float) -> bool:
        return OPS[self.op](observed, self.value)


def _fail(where: str, message: str) -> RuleError:
    return RuleError(f"{where}: {message}")


def _str_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise _fail(where, "expected a mapping of names to values")
    return {k: str(v) for k, v in value.items()}


def parse_rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise _fail(where, "a rule must be a mapping")
    known = {"name", "type", "severity", "select", "scope", "figure", "op", "value", "for", "labels", "annotations", "objective", "windows", "baseline"}
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(where, f"field 'name': expected an identifier, got {name!r}")
    where = f"{where} ({name})"
    unknown = sorted(set(raw) - known)
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(unknown)}")
    kind = raw.get("type", "threshold")
    if kind not in TYPES:
        raise _fail(where, f"field 'type': expected one of {', '.join(TYPES)}, got {kind!r}")
    severity = raw.get("severity", "warning")
    if severity not in SEVERITIES:
        raise _fail(where, f"field 'severity': expected one of {', '.join(SEVERITIES)}, got {severity!r}")
    scope = raw.get("scope", "groups" if raw.get("select") or kind != "threshold" else "totals")
    if scope not in SCOPES:
        raise _fail(where, f"field 'scope': expected one of {', '.join(SCOPES)}, got {scope!r}")
    try:
        for_s = parse_duration(str(raw.get("for", "0s")), "field 'for'") if raw.get("for") not in (None, 0, "0") else 0.0
    except ValueError as exc:
        raise _fail(where, str(exc)) from None
    rule: dict[str, Any] = {
        "name": name, "type": kind, "severity": severity, "scope": scope, "for_s": for_s,
        "select": _str_map(raw.get("select"), f"{where} field 'select'"),
        "labels": _str_map(raw.get("labels"), f"{where} field 'labels'"),
        "annotations": _str_map(raw.get("annotations"), f"{where} field 'annotations'"),
    }
    if kind == "threshold":
        figure = raw.get("figure")
        if not isinstance(figure, str) or not figure:
            raise _fail(where, "field 'figure': required for a threshold rule (e.g. latency_ms.p95, error_rate)")
        op = raw.get("op", ">")
        if op not in OPS:
            raise _fail(where, f"field 'op': expected one of {' '.join(OPS)}, got {op!r}")
        value = raw.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(where, f"field 'value': expected a number, got {value!r}")
        rule.update(figure=figure, op=op, value=float(value))
        problem = check_figure(figure, scope) or check_select(rule["select"], scope)
        if problem:
            raise _fail(where, problem)
    elif kind == "slo":
        objective = raw.get("objective")
        if isinstance(objective, bool) or not isinstance(objective, (int, float)) or not 0 < objective < 1:
            raise _fail(where, f"field 'objective': expected a success ratio between 0 and 1 (e.g. 0.99), got {objective!r}")
        rule["objective"] = float(objective)
        problem = check_select(rule["select"], "groups", ("kind", "name"))  # SLO error ratios are per kind and name
        if problem:
            raise _fail(where, problem)
        if "windows" in raw:
            try:
                rule["windows"] = tuple(
                    (w["severity"], w["long"], w["short"], float(w["burn"])) for w in raw["windows"]
                )
                for sev, long_w, short_w, _ in rule["windows"]:
                    if sev not in SEVERITIES:
                        raise ValueError(f"severity {sev!r}")
                    parse_duration(long_w)
                    parse_duration(short_w)
            except (TypeError, KeyError, ValueError) as exc:
                raise _fail(where, f"field 'windows': each needs severity, long, short, burn ({exc})") from None
    else:
        baseline = str(raw.get("baseline", "24h..1h"))
        if ".." not in baseline:
            raise _fail(where, f"field 'baseline': expected FROM..TO like 24h..1h, got {baseline!r}")
        rule["baseline"] = baseline
        problem = check_select(rule["select"], scope)
        if problem:
            raise _fail(where, problem)
    return Rule(**rule)


def load_rules(path: str | Path) -> list[Rule]:
    """All rules of the file, or a RuleError naming the first bad rule and field (nothing half-loaded)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise RuleError(f"{p}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise RuleError(f"{p}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RuleError(f"{p}: expected a mapping with a list under 'rules'")
    rules = [parse_rule(raw, f"{p} rule {i + 1}") for i, raw in enumerate(data["rules"])]
    names = [(r.name, r.severity) for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RuleError(f"{p}: rule {dupes[0][0]!r} with severity {dupes[0][1]} is defined twice")
    return rules
