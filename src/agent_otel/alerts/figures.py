"""What a rule may name: the figures a report produces per scope, and the keys and kinds `select` matches.

The figure list is the report model's (analyzer/model.py `figure_paths`), so it follows the report
as figures are added, instead of a hand-kept copy that drifts. A name outside it is refused at load with the
nearest valid ones (difflib), so a typo cannot switch an alert off silently.
"""

from __future__ import annotations

import difflib
import functools

from agent_otel import semconv
from agent_otel.analyzer.model import SCOPE_TYPES, figure_paths

# computed by the evaluator from a scope's figures and the window length (alerts/evaluate.py)
DERIVED = ("tokens_per_s", "cost_usd_per_hour")
KINDS = (semconv.KIND_AGENT, semconv.KIND_STEP, semconv.KIND_TOOL, semconv.KIND_LLM, semconv.KIND_INFERENCE, semconv.KIND_WORKFLOW)
SELECT_KEYS = {"groups": ("kind", "name"), "services": ("service",), "totals": (), "resources": ()}


@functools.lru_cache(maxsize=1)
def figures() -> dict[str, tuple[str, ...]]:
    """Scope -> every figure path a threshold rule of that scope can read (the report model's own list)."""
    return {scope: tuple(sorted(set(figure_paths(cls)) | set(DERIVED if scope != "resources" else ()))) for scope, cls in SCOPE_TYPES.items()}


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
