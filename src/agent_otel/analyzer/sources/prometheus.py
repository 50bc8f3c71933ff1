"""Prometheus HTTP API (PromQL) as a metrics source: resource figures and histogram push-down."""

from __future__ import annotations

from typing import Any

from agent_otel.analyzer.sources.base import SourceError
from agent_otel.analyzer.sources.http import Backend


class Prometheus:
    def __init__(self, url: str, **kw: Any) -> None:
        self.api = Backend("prometheus", url, **kw)

    def query(self, promql: str, at_ns: int | None = None) -> list[dict[str, Any]]:
        """Instant vector: [{"metric": {...}, "value": float}]."""
        params: dict[str, Any] = {"query": promql}
        if at_ns is not None:
            params["time"] = f"{at_ns / 1e9:.3f}"
        data = self.api.get_json("/api/v1/query", params)
        if not isinstance(data, dict) or data.get("status") != "success":
            raise SourceError(f"prometheus: query {promql!r} failed: {(data or {}).get('error', data)!r}"[:300])
        result = (data.get("data") or {}).get("result")
        if not isinstance(result, list):
            raise SourceError(f"prometheus: query {promql!r}: malformed answer (no result list)")
        out = []
        for r in result:
            try:
                out.append({"metric": r["metric"], "value": float(r["value"][1])})
            except (KeyError, IndexError, TypeError, ValueError):
                raise SourceError(f"prometheus: query {promql!r}: malformed sample {r!r}"[:300]) from None
        return out

    def range(self, promql: str, start_ns: int, end_ns: int, step_s: float) -> list[tuple[int, float]]:
        """One series of a range query (summed if several): [(timestamp ns, value)]."""
        data = self.api.get_json("/api/v1/query_range", {"query": promql, "start": f"{start_ns / 1e9:.3f}", "end": f"{end_ns / 1e9:.3f}", "step": f"{step_s:.3f}"})
        if not isinstance(data, dict) or data.get("status") != "success":
            raise SourceError(f"prometheus: range query {promql!r} failed: {(data or {}).get('error', data)!r}"[:300])
        total: dict[int, float] = {}
        try:
            for series in data["data"]["result"]:
                for ts, value in series["values"]:
                    at = int(float(ts) * 1e9)
                    total[at] = total.get(at, 0.0) + float(value)
        except (KeyError, TypeError, ValueError):
            raise SourceError(f"prometheus: range query {promql!r}: malformed answer") from None
        return sorted(total.items())

    def by(self, promql: str, *labels: str, at_ns: int | None = None) -> dict[tuple[str, ...], float]:
        """An instant vector keyed by the values of `labels` (missing label: "")."""
        return {tuple(r["metric"].get(label, "") for label in labels): r["value"] for r in self.query(promql, at_ns)}

    def scalar(self, promql: str, at_ns: int | None = None) -> float | None:
        rows = self.query(promql, at_ns)
        return rows[0]["value"] if rows else None
