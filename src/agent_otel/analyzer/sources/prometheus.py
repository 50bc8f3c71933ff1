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

    def scalar(self, promql: str, at_ns: int | None = None) -> float | None:
        rows = self.query(promql, at_ns)
        return rows[0]["value"] if rows else None
