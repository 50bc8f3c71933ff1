"""Evaluations in a report: `gen_ai.evaluation.result` events aggregated per name, agent and model.

Rows come from the local store's logs table or Loki (structured metadata, dots as underscores);
the result is plain data: `totals.evaluation.<name>` and, on agent and model groups,
`evaluation.<name>` = count, mean, min, max of the scores and the count of each label — the
figures an alert rule names as `evaluation.<name>.mean`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from agent_otel import semconv
from agent_otel.evaluation import EVALUATION_NAME, EVALUATION_SCORE_LABEL, EVALUATION_SCORE_VALUE

FIELDS = {"name": EVALUATION_NAME, "score": EVALUATION_SCORE_VALUE, "label": EVALUATION_SCORE_LABEL,
          "agent": semconv.GEN_AI_AGENT_NAME, "model": semconv.GEN_AI_RESPONSE_MODEL, "request_model": semconv.GEN_AI_REQUEST_MODEL}


def _row(attrs: dict[str, Any], trace_id: str | None) -> dict[str, Any] | None:
    def get(key: str) -> Any:
        return attrs.get(key, attrs.get(key.replace(".", "_")))

    name = get(EVALUATION_NAME)
    if not name:
        return None
    score = get(EVALUATION_SCORE_VALUE)
    try:
        score = float(score) if score not in (None, "") else None
    except (TypeError, ValueError):
        score = None
    return {"name": str(name), "score": score, "label": get(EVALUATION_SCORE_LABEL), "agent": get(semconv.GEN_AI_AGENT_NAME),
            "model": get(semconv.GEN_AI_RESPONSE_MODEL) or get(semconv.GEN_AI_REQUEST_MODEL), "trace_id": trace_id}


def evaluation_rows(source: Any, start_ns: int, end_ns: int, service: str | None) -> list[dict[str, Any]]:
    """Every evaluation event of the window."""
    import json

    if hasattr(source, "log_attributes"):  # the local store (analyzer/sources/local.py owns its SQL)
        out = []
        for attrs, tid in source.log_attributes(EVALUATION_NAME, start_ns, end_ns, service):
            try:
                row = _row(json.loads(attrs or "{}"), tid)
            except ValueError:
                continue
            if row:
                out.append(row)
        return out
    loki = getattr(source, "loki", None)
    if loki is not None:
        sel = f'service_name="{service}"' if service else 'service_name=~".+"'
        lines = loki.query_range("{" + sel + "} | gen_ai_evaluation_name != \"\"", start_ns, end_ns, limit=5000)
        return [r for r in (_row(labels, labels.get("trace_id")) for _ts, _line, labels in lines) if r]
    return []


def _stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    scores = [r["score"] for r in rows if r["score"] is not None]
    labels: dict[str, int] = defaultdict(int)
    for r in rows:
        if r["label"] is not None:
            labels[str(r["label"])] += 1
    out: dict[str, Any] = {"count": len(rows)}
    if scores:
        out.update(mean=round(sum(scores) / len(scores), 6), min=min(scores), max=max(scores))
    if labels:
        out["labels"] = dict(labels)
    return out


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """{"totals": {name: stats}, "agents": {agent: {name: stats}}, "models": {model: {name: stats}}}."""
    def by(key: str | None) -> dict[str, Any]:
        groups: dict[Any, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        for r in rows:
            if key is None or r[key]:
                groups[r[key] if key else ""][r["name"]].append(r)
        return {str(g): {n: _stats(rs) for n, rs in sorted(names.items())} for g, names in groups.items()}

    return {"totals": by(None).get("", {}), "agents": by("agent"), "models": by("model")}


def attach(data: dict[str, Any], rows: list[dict[str, Any]], baseline: Any = None, source: Any = None, service: str | None = None) -> None:
    """Put the aggregates into a report's data: totals, agent and model groups, an `evaluations` section
    (with `baseline`: each mean score against the baseline's)."""
    agg = aggregate(rows)
    data["totals"]["evaluation"] = agg["totals"]
    for g in data["groups"]:
        found = agg["agents"].get(g["name"]) if g["kind"] == semconv.KIND_AGENT else (
            agg["models"].get(g["name"]) if g["kind"] == semconv.KIND_LLM else None)
        if found:
            g["evaluation"] = found
    data["evaluations"] = {"count": len(rows), **agg}
    if baseline is not None:
        data["evaluations"]["baseline"] = baseline_comparison(agg["totals"], baseline, source, service)


CHANGE_PCT = 5.0  # a mean score that moves by more than this (relative) against the baseline is a change


def means_from_file(path: str) -> dict[str, float]:
    """Mean score per evaluation name of a saved report (a baseline file); empty when it has none."""
    import json
    from pathlib import Path

    try:
        totals = json.loads(Path(path).read_text()).get("totals", {}).get("evaluation") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    return {n: float(s["mean"]) for n, s in totals.items() if isinstance(s, dict) and "mean" in s}


def baseline_comparison(current: dict[str, Any], baseline: Any, source: Any, service: str | None) -> dict[str, Any]:
    """Per evaluation name: mean now and in the baseline, the change, and a verdict (higher scores are better)."""
    means = getattr(baseline, "evaluation_means", None)
    if means is None and getattr(baseline, "window", None):
        totals = aggregate(evaluation_rows(source, baseline.window[0], baseline.window[1], service))["totals"]
        means = {n: s["mean"] for n, s in totals.items() if "mean" in s}
    out = {}
    for name, stats in current.items():
        base = (means or {}).get(name)
        if "mean" not in stats or base is None:
            continue
        change = stats["mean"] - base
        pct = change / abs(base) * 100 if base else (0.0 if not change else float("inf"))
        verdict = "stable" if abs(pct) <= CHANGE_PCT else ("improved" if change > 0 else "degraded")
        out[name] = {"mean": stats["mean"], "baseline_mean": round(base, 6), "change": round(change, 6),
                     "change_pct": round(pct, 2), "verdict": verdict}
    return out
