"""Telemetry sources a report can read: the local store, or the running stack's backends."""

from __future__ import annotations

from agent_otel.analyzer.sources.base import Source, SourceError


def open_source(
    kind: str = "local",
    *,
    store: str | None = None,
    jaeger: str | None = None,
    prometheus: str | None = None,
    loki: str | None = None,
    headers: dict[str, str] | None = None,
    timeout_s: float = 10.0,
) -> Source:
    """`local` (the embedded store) or `stack` (Jaeger for traces, Loki for logs, Prometheus for metrics)."""
    if kind == "local":
        from agent_otel.analyzer.sources.local import LocalSource

        return LocalSource(store)
    if kind == "stack":
        from agent_otel.analyzer.sources.stack import StackSource

        return StackSource(jaeger=jaeger, prometheus=prometheus, loki=loki, headers=headers, timeout_s=timeout_s)
    raise SourceError(f"unknown source {kind!r}: expected 'local' or 'stack'")


__all__ = ["Source", "SourceError", "open_source"]
