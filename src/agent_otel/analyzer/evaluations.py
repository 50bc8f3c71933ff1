"""Evaluations in a report: `gen_ai.evaluation.result` events aggregated per name, agent and model.

Rows come from the local store's logs table; on the stack the same figures are computed in Loki
by LogQL metric queries over the events' structured metadata (dots as underscores), so no event
line is fetched and none is missed however many there are. The result is plain data: `totals.evaluation.<name>` and, on agent and model groups,
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


def evaluation_rows(source: Any, start_ns: int, end_ns: int, service: str | None, trace_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """Every evaluation event of the window (only those of `trace_ids` when given)."""
    import json

    if hasattr(source, "log_attributes"):  # the local store (analyzer/sources/local.py owns its SQL)
        out = []
        for attrs, tid in source.log_attributes(EVALUATION_NAME, start_ns, end_ns, service):
            try:
                row = _row(json.loads(attrs or "{}"), tid)
            except ValueError:
                continue
            if row and (trace_ids is None or tid in trace_ids):
                out.append(row)
        return out
    loki = getattr(source, "loki", None)
    if loki is not None:
        query = _selector(service)
        if trace_ids is not None:
            if not trace_ids:
                return []
            query += ' | trace_id=~"' + "|".join(sorted(trace_ids)) + '"'
        lines = loki.query_range(query, start_ns, end_ns, limit=5000)
        return [r for r in (_row(labels, labels.get("trace_id")) for _ts, _line, labels in lines) if r]
    return []


# Loki keeps the event's attributes as structured metadata, dots as underscores.
def _label(key: str) -> str:
    return key.replace(".", "_")


NAME, AGENT, SCORE, LABEL = _label(EVALUATION_NAME), _label(semconv.GEN_AI_AGENT_NAME), _label(EVALUATION_SCORE_VALUE), _label(EVALUATION_SCORE_LABEL)
MODEL = "agent_otel_model"  # the response model, else the request model (as _row takes it)


def _selector(service: str | None) -> str:
    from agent_otel.promql import quote

    sel = f"service_name={quote(service)}" if service else 'service_name=~".+"'
    return "{" + sel + "} | " + NAME + ' != ""'


def loki_cells(loki: Any, start_ns: int, end_ns: int, service: str | None) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Per (evaluation, agent, model): count, labels, scored count, sum, min, max — computed in Loki by
    LogQL metric queries over the window (exact, however many events; no line is fetched)."""
    rng = f"[{max(int((end_ns - start_ns) / 1e9), 1)}s]"
    resp, req = _label(semconv.GEN_AI_RESPONSE_MODEL), _label(semconv.GEN_AI_REQUEST_MODEL)
    base = _selector(service) + f' | label_format {MODEL}="{{{{or .{resp} .{req}}}}}"'
    has_score = base + f' | {SCORE} != ""'
    scored = has_score + f' | unwrap {SCORE} | __error__=""'
    by = f"{NAME}, {AGENT}, {MODEL}"
    cells: dict[tuple[str, str, str], dict[str, Any]] = {}

    def run(query: str, labels: bool = False) -> list[tuple[tuple[str, str, str], str, float]]:
        return [((m.get(NAME, ""), m.get(AGENT, ""), m.get(MODEL, "")), m.get(LABEL, "") if labels else "", v)
                for m, v in loki.vector(query, end_ns)]

    for key, label, n in run(f"sum by ({by}, {LABEL}) (count_over_time({base} {rng}))", labels=True):
        cell = cells.setdefault(key, {"count": 0, "labels": {}, "scored": 0, "sum": 0.0, "min": None, "max": None})
        cell["count"] += round(n)
        if label:
            cell["labels"][label] = cell["labels"].get(label, 0) + round(n)
    for field, agg in (("scored", "count_over_time"), ("sum", "sum_over_time"), ("min", "min_over_time"), ("max", "max_over_time")):
        outer = {"min": "min", "max": "max"}.get(field, "sum")
        for key, _l, v in run(f"{outer} by ({by}) ({agg}({has_score if field == 'scored' else scored} {rng}))"):
            if key in cells:
                cells[key][field] = round(v) if field == "scored" else v
    return cells


def _cells_of_rows(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    cells: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        cell = cells.setdefault((r["name"], str(r["agent"] or ""), str(r["model"] or "")),
                                {"count": 0, "labels": {}, "scored": 0, "sum": 0.0, "min": None, "max": None})
        cell["count"] += 1
        if r["label"] is not None:
            cell["labels"][str(r["label"])] = cell["labels"].get(str(r["label"]), 0) + 1
        if r["score"] is not None:
            s = r["score"]
            cell["scored"] += 1
            cell["sum"] += s
            cell["min"] = s if cell["min"] is None else min(cell["min"], s)
            cell["max"] = s if cell["max"] is None else max(cell["max"], s)
    return cells


def _stats(cells: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"count": sum(c["count"] for c in cells)}
    scored = sum(c["scored"] for c in cells)
    if scored:
        out.update(mean=round(sum(c["sum"] for c in cells) / scored, 6), min=min(c["min"] for c in cells if c["scored"]),
                   max=max(c["max"] for c in cells if c["scored"]))
    labels: dict[str, int] = defaultdict(int)
    for c in cells:
        for label, n in c["labels"].items():
            labels[label] += n
    if labels:
        out["labels"] = dict(labels)
    return out


def aggregate_cells(cells: dict[tuple[str, str, str], dict[str, Any]]) -> dict[str, Any]:
    """{"totals": {name: stats}, "agents": {agent: {name: stats}}, "models": {model: {name: stats}}}."""
    def by(pos: int | None) -> dict[str, Any]:
        groups: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        for key, cell in cells.items():
            if pos is None or key[pos]:
                groups[key[pos] if pos is not None else ""][key[0]].append(cell)
        return {g: {n: _stats(cs) for n, cs in sorted(names.items())} for g, names in groups.items()}

    return {"totals": by(None).get("", {}), "agents": by(1), "models": by(2)}


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The aggregates of evaluation rows (see aggregate_cells)."""
    return aggregate_cells(_cells_of_rows(rows))


def summary(source: Any, start_ns: int, end_ns: int, service: str | None, trace_ids: set[str] | None = None) -> tuple[int, dict[str, Any]]:
    """(events, aggregates) of the window: from the local store's rows, or computed in Loki (a set of
    `trace_ids`, e.g. one conversation's, is read as lines and filtered by trace id)."""
    loki = getattr(source, "loki", None)
    if not hasattr(source, "log_attributes") and loki is not None and trace_ids is None:
        cells = loki_cells(loki, start_ns, end_ns, service)
        return sum(c["count"] for c in cells.values()), aggregate_cells(cells)
    rows = evaluation_rows(source, start_ns, end_ns, service, trace_ids)
    return len(rows), aggregate(rows)


def attach(data: dict[str, Any], count: int, agg: dict[str, Any], baseline: Any = None, source: Any = None, service: str | None = None) -> None:
    """Put the aggregates into a report's data: totals, agent and model groups, an `evaluations` section
    (with `baseline`: each mean score against the baseline's)."""
    data["totals"]["evaluation"] = agg["totals"]
    for g in data["groups"]:
        found = agg["agents"].get(g["name"]) if g["kind"] == semconv.KIND_AGENT else (
            agg["models"].get(g["name"]) if g["kind"] == semconv.KIND_LLM else None)
        if found:
            g["evaluation"] = found
    data["evaluations"] = {"count": count, **agg}
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
        totals = summary(source, baseline.window[0], baseline.window[1], service)[1]["totals"]
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
