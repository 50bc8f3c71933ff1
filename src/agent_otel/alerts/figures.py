"""What a rule may name: the figures a report produces per scope, and the keys and kinds `select` matches.

The figure list is read off a report built from one sample trace (an agent calling a tool and a
priced model, with resource and inference figures), so it follows the report's schema as figures
are added, instead of a hand-kept copy that drifts. A name outside it is refused at load with the
nearest valid ones (difflib), so a typo cannot switch an alert off silently.
"""

from __future__ import annotations

import difflib
import functools
from typing import Any

from agent_otel import semconv

# computed by the evaluator from a scope's figures and the window length (alerts/evaluate.py)
DERIVED = ("tokens_per_s", "cost_usd_per_hour")
KINDS = (semconv.KIND_AGENT, semconv.KIND_STEP, semconv.KIND_TOOL, semconv.KIND_LLM, semconv.KIND_INFERENCE, semconv.KIND_WORKFLOW)
SELECT_KEYS = {"groups": ("kind", "name"), "services": ("service",), "totals": (), "resources": ()}
INFERENCE_FIGURES = ("cache_hit_ratio", "cache_requests", "batches", "mean_batch_size")  # sources/local.py


class _Sample:
    """A source with one trace: agent -> tool, agent -> llm (priced, with tokens)."""

    name = "sample"

    def services(self) -> list[str]:
        return ["svc"]

    def spans(self, start_ns: int, end_ns: int, service: str | None):  # type: ignore[no-untyped-def]
        from agent_otel.analyzer.sources.base import SpanFrame

        return SpanFrame.from_rows([
            ("agent", "bot", "svc", start_ns, 30.0, False, None, None, None, None, "t", None),
            ("tool", "search", "svc", start_ns + 1, 10.0, True, "Timeout", None, None, None, "t", "a"),
            ("llm", "gpt-4o", "svc", start_ns + 2, 10.0, False, None, "gpt-4o", 10, 5, "t", "a"),
        ])

    def trace(self, trace_id: str) -> list[Any]:
        return []

    def error_logs(self, trace_ids: list[str], start_ns: int, end_ns: int) -> dict[str, str]:
        return {}

    def resources(self, start_ns: int, end_ns: int, service: str | None):  # type: ignore[no-untyped-def]
        from agent_otel.analyzer.sources.base import ResourceFigures

        return ResourceFigures(0.5, 1e8, 0.5, 1e9, {k: 1.0 for k in INFERENCE_FIGURES})


def _numeric_paths(node: Any, prefix: str = "") -> list[str]:
    if isinstance(node, bool):
        return []
    if isinstance(node, (int, float)):
        return [prefix]
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _numeric_paths(v, f"{prefix}.{k}" if prefix else str(k))]
    return []


@functools.lru_cache(maxsize=1)
def figures() -> dict[str, tuple[str, ...]]:
    """Scope -> every figure path a threshold rule of that scope can read."""
    from agent_otel.analyzer.report import build_report

    report = build_report(_Sample(), 10**18, 10**18 + 60 * 10**9).to_dict()  # type: ignore[arg-type]
    group = {k: v for k, v in report["groups"][0].items() if k not in ("latency_samples_ms", "baseline")}
    scopes = {"groups": group, "totals": report["totals"], "services": report["services"][0], "resources": report["resources"]}
    return {scope: tuple(sorted(set(_numeric_paths(item)) | set(DERIVED if scope != "resources" else ()))) for scope, item in scopes.items()}


def nearest(bad: str, valid: tuple[str, ...] | list[str]) -> str:
    """'nearest: a, b' (difflib), or every valid name when none is close."""
    close = difflib.get_close_matches(bad, list(valid), n=3, cutoff=0.5)
    if close:
        return "nearest: " + ", ".join(close)
    return "valid: " + (", ".join(valid) if valid else "none")


EVALUATION_STATS = ("mean", "min", "max", "count")  # analyzer/evaluations.py; names are the user's own
EVALUATION_SCOPES = ("groups", "totals")


def check_evaluation_figure(figure: str, scope: str) -> str | None:
    """`evaluation.<name>.<stat>`: the name is any evaluation's (record_evaluation), the stat one of EVALUATION_STATS."""
    parts = figure.split(".")
    if len(parts) != 3 or not parts[1]:
        return f"field 'figure': {figure!r}: an evaluation figure is evaluation.<name>.<stat> (the name has no dots), e.g. evaluation.relevance.mean"
    if parts[2] not in EVALUATION_STATS:
        return f"field 'figure': {figure!r}: unknown statistic {parts[2]!r}; {nearest(parts[2], EVALUATION_STATS)}"
    if scope not in EVALUATION_SCOPES:
        return f"field 'figure': {figure!r}: evaluation figures are in scope groups (agents, models) or totals, not {scope}"
    return None


def check_figure(figure: str, scope: str) -> str | None:
    """None when `figure` is one the report gives for `scope`, else the error text."""
    if figure.startswith("evaluation."):
        return check_evaluation_figure(figure, scope)
    valid = figures()[scope]
    if figure in valid:
        return None
    return f"field 'figure': {figure!r} is not a figure of scope {scope}; {nearest(figure, valid)}"


def check_select(select: dict[str, str], scope: str, keys: tuple[str, ...] | None = None) -> str | None:
    """None when every key of `select` is matched by `scope` (or `keys`) and every kind is a real kind."""
    allowed = SELECT_KEYS[scope] if keys is None else keys
    for key, value in select.items():
        if key not in allowed:
            if not allowed:
                return f"field 'select': scope {scope} has a single item, nothing to select (drop 'select' or use scope groups/services)"
            return f"field 'select': unknown key {key!r} for scope {scope}; {nearest(key, allowed)}"
        if key == "kind" and value not in KINDS:
            return f"field 'select': kind {value!r} is not a kind the report has; {nearest(value, KINDS)}"
    return None


__all__ = ["DERIVED", "KINDS", "check_figure", "check_select", "figures", "nearest"]
