"""Loki query_range (LogQL) as a log source: the log lines of given traces."""

from __future__ import annotations

from typing import Any

from agent_otel.analyzer.sources.base import SourceError
from agent_otel.analyzer.sources.detail import LogLine
from agent_otel.analyzer.sources.http import Backend
from agent_otel.analyzer.sources.severity import most_severe_per_trace


def _severity(labels: dict[str, str]) -> str | None:
    """Loki keeps an OTLP record's severity as structured metadata, or detects a level itself."""
    return labels.get("severity_text") or labels.get("detected_level") or labels.get("level")


class Loki:
    def __init__(self, url: str, **kw: Any) -> None:
        self.api = Backend("loki", url, **kw)

    def query_range(self, logql: str, start_ns: int, end_ns: int, limit: int = 1000) -> list[tuple[int, str, dict[str, str]]]:
        """(timestamp ns, line, stream labels + structured metadata) of matching lines."""
        data = self.api.get_json(
            "/loki/api/v1/query_range",
            {"query": logql, "start": str(start_ns), "end": str(end_ns), "limit": limit, "direction": "forward"},
        )
        try:
            streams = data["data"]["result"]
            out = []
            for stream in streams:
                labels = stream.get("stream") or {}
                for value in stream["values"]:
                    ts, line = value[0], value[1]
                    meta = value[2] if len(value) > 2 and isinstance(value[2], dict) else {}
                    flat = {**labels, **(meta.get("structuredMetadata") or {}), **(meta.get("parsed") or {})}
                    out.append((int(ts), line, flat))
            return out
        except (KeyError, TypeError, ValueError, IndexError):
            raise SourceError(f"loki: query {logql!r}: malformed answer") from None

    def metric(self, logql: str, at_ns: int) -> dict[tuple[str, ...], float]:
        """A LogQL metric query (instant) keyed by the value of its single `by` label."""
        data = self.api.get_json("/loki/api/v1/query", {"query": logql, "time": str(at_ns)})
        try:
            return {tuple(r["metric"].values())[:1] or ("",): float(r["value"][1]) for r in data["data"]["result"]}
        except (KeyError, TypeError, ValueError, IndexError):
            raise SourceError(f"loki: query {logql!r}: malformed answer") from None

    def vector(self, logql: str, at_ns: int) -> list[tuple[dict[str, str], float]]:
        """A LogQL metric query (instant): (labels, value) of each series."""
        data = self.api.get_json("/loki/api/v1/query", {"query": logql, "time": str(at_ns)})
        try:
            return [(dict(r.get("metric") or {}), float(r["value"][1])) for r in data["data"]["result"]]
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            raise SourceError(f"loki: query {logql!r}: malformed answer") from None

    def trace_lines(self, trace_id: str, start_ns: int, end_ns: int) -> list[LogLine]:
        """Every log line of one trace written in [start_ns, end_ns), oldest first."""
        out = []
        for ts, line, labels in self.query_range('{service_name=~".+"} | trace_id="' + trace_id + '"', start_ns, end_ns):
            severity = _severity(labels)
            out.append(LogLine(ts, severity.upper() if severity else None, line, labels.get("span_id") or None, labels.get("service_name")))
        return sorted(out, key=lambda l: l.ts_ns)

    def trace_logs(self, trace_ids: list[str], start_ns: int, end_ns: int) -> dict[str, str]:
        if not trace_ids:
            return {}
        logql = '{service_name=~".+"} | trace_id=~"' + "|".join(trace_ids) + '"'
        return most_severe_per_trace((labels.get("trace_id", ""), _severity(labels), line) for _ts, line, labels in self.query_range(logql, start_ns, end_ns))
