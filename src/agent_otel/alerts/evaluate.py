"""Evaluate rules against a source: which alert instances hold now, with their value and labels.

Threshold rules read a figure of a report of the last `window`; SLO rules compute error ratios
over the SRE-workbook window pairs and fire when both windows burn faster than the factor;
regression rules fire for groups the analyzer's baseline comparison calls degraded.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent_otel.alerts.rules import Rule
from agent_otel.analyzer.model import Report, to_dict
from agent_otel.analyzer.report import Baseline, build_report
from agent_otel.analyzer.sources.base import Source, SpanFrame
from agent_otel.errors import EmptyWindowError
from agent_otel.analyzer.timewindow import baseline_window, parse_duration


@dataclass
class Instance:
    """One alert instance: a rule that holds for one set of labels."""

    rule: Rule
    labels: dict[str, str]
    value: float
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(sorted(self.labels.items())).encode()).hexdigest()[:16]

    @property
    def severity(self) -> str:
        return self.labels["severity"]


def _render(template: str, values: dict[str, Any]) -> str:
    """`{{ name }}` placeholders from the instance's labels and value; unknown ones stay visible."""
    out = template
    for key, value in values.items():
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        out = out.replace("{{ " + key + " }}", text).replace("{{" + key + "}}", text)
    return out


def _instance(rule: Rule, scope_labels: dict[str, str], value: float, severity: str | None = None, extra: dict[str, Any] | None = None) -> Instance:
    labels = {"alertname": rule.name, **scope_labels, **rule.labels, "severity": severity or rule.severity}
    values = {**labels, "value": value, "threshold": rule.value, **(extra or {})}
    return Instance(rule, labels, value, {k: _render(v, values) for k, v in rule.annotations.items()})


def _figure(item: Any, path: str, window_s: float) -> float | None:
    """A figure of a scope item through the report model's accessor, or one derived from the window length."""
    derived = {
        "tokens_per_s": lambda: ((getattr(item, "input_tokens", 0) or 0) + (getattr(item, "output_tokens", 0) or 0)) / window_s,  # null: no tokens
        "cost_usd_per_hour": lambda: (getattr(item, "cost_usd", 0) or 0) / (window_s / 3600),
    }
    if path in derived:
        return float(derived[path]())
    if path.startswith("evaluation."):  # evaluation.<name>.<stat>: names are the user's own (alerts/figures.py)
        _, name, stat = path.split(".")
        value = (getattr(item, "evaluation", None) or {}).get(name, {}).get(stat)
        return float(value) if isinstance(value, (int, float)) else None
    return Report.figure(item, path)


def _scope_items(report: Report, rule: Rule) -> list[tuple[dict[str, str], Any]]:
    """(labels, item) of the rule's scope whose labels match its `select`."""
    return [(labels, item) for labels, item in report.scope_items(rule.scope) if all(labels.get(k) == v for k, v in rule.select.items())]


def threshold(rule: Rule, report: Report) -> list[Instance]:
    out = []
    window_s = report.window.seconds
    for labels, item in _scope_items(report, rule):
        value = _figure(item, rule.figure, window_s)
        if value is not None and rule.compare(value):
            out.append(_instance(rule, labels, value))
    return out


def _error_ratios(frame: SpanFrame, select: dict[str, str]) -> dict[tuple[str, str], tuple[float, int]]:
    """(kind, name) -> (error ratio, calls) of the selected groups."""
    if len(frame) == 0:
        return {}
    mask = np.ones(len(frame), dtype=bool)
    if "kind" in select:
        mask &= frame.kind == select["kind"]
    if "name" in select:
        mask &= frame.target == select["name"]
    out = {}
    for key in set(zip(frame.kind[mask], frame.target[mask])):
        rows = mask & (frame.kind == key[0]) & (frame.target == key[1])
        out[(str(key[0]), str(key[1]))] = (float(frame.error[rows].mean()), int(rows.sum()))
    return out


def slo(rule: Rule, source: Source, now_ns: int, service: str | None) -> list[Instance]:
    assert rule.objective is not None
    budget = 1 - rule.objective
    cache: dict[str, dict[tuple[str, str], tuple[float, int]]] = {}

    def ratios(window: str) -> dict[tuple[str, str], tuple[float, int]]:
        if window not in cache:
            start = now_ns - int(parse_duration(window) * 1e9)
            cache[window] = _error_ratios(source.spans(start, now_ns, service), rule.select)
        return cache[window]

    firing: dict[tuple[str, str], Instance] = {}
    for severity, long_w, short_w, factor in rule.windows:
        for key, (long_ratio, calls) in ratios(long_w).items():
            short_ratio = ratios(short_w).get(key, (0.0, 0))[0]
            burn_long, burn_short = long_ratio / budget, short_ratio / budget
            if burn_long > factor and burn_short > factor and key not in firing:
                firing[key] = _instance(
                    rule, {"kind": key[0], "name": key[1]}, burn_long, severity,
                    {"burn_rate": burn_long, "window": long_w, "error_ratio": long_ratio, "calls": calls},
                )
                if not firing[key].annotations:
                    firing[key].annotations = {
                        "summary": f"{key[0]} {key[1]} burns its error budget {burn_long:.1f}x over {long_w} "
                                   f"(and {burn_short:.1f}x over {short_w}); objective {rule.objective:.3%}"
                    }
    return list(firing.values())


def regression(rule: Rule, source: Source, now_ns: int, window_s: float, service: str | None) -> list[Instance]:
    b_start, b_end = baseline_window(rule.baseline, now_ns)
    base = Baseline.from_frame(rule.baseline, source.spans(b_start, b_end, service), source.resources(b_start, b_end, service))
    report = build_report(source, now_ns - int(window_s * 1e9), now_ns, service=service, baseline=base)
    out = []
    for labels, group in _scope_items(report, rule):
        verdict = to_dict(group.baseline) if group.baseline else {}
        if verdict.get("status") == "degraded":
            inst = _instance(rule, labels, float(verdict["p95_change_pct"]), extra=verdict)
            if not inst.annotations:
                inst.annotations = {"summary": f"{labels.get('kind')} {labels.get('name')}: p95 {verdict['p95_ms']:.0f} ms, up {verdict['p95_change_pct']:.0f}% since baseline (p={verdict['p_value']:.3g})"}
            out.append(inst)
    return out


def evaluate(rules: list[Rule], source: Source, *, window_s: float = 300, now_ns: int | None = None, service: str | None = None) -> list[Instance]:
    """Every instance that holds now. An empty window is no data, not an error: nothing fires."""
    now_ns = now_ns or time.time_ns()
    report: Report | None = None
    empty = False
    out: list[Instance] = []
    for rule in rules:
        if rule.type == "threshold":
            if report is None and not empty:
                try:
                    report = build_report(source, now_ns - int(window_s * 1e9), now_ns, service=service)
                except EmptyWindowError:
                    empty = True
            if report is not None:
                out.extend(threshold(rule, report))
        elif rule.type == "slo":
            out.extend(slo(rule, source, now_ns, service))
        else:
            try:
                out.extend(regression(rule, source, now_ns, window_s, service))
            except EmptyWindowError:
                pass
    return out
