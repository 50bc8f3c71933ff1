"""The embedded local store: what `agent-otel report` reads when no backends run."""

from __future__ import annotations

import os
from typing import NamedTuple

from agent_otel.localstore.exporters import LocalLogExporter, LocalMetricExporter, LocalSpanExporter
from agent_otel.localstore.store import Store, connect, default_path


class LocalExporters(NamedTuple):
    spans: LocalSpanExporter
    metrics: LocalMetricExporter
    logs: LocalLogExporter
    store: Store


def open_exporters(path: str | os.PathLike[str] | None = None) -> LocalExporters:
    """Span, metric and log exporters writing into the store at `path` (default: see `default_path`)."""
    store = Store(path)
    return LocalExporters(LocalSpanExporter(store), LocalMetricExporter(store), LocalLogExporter(store), store)


__all__ = ["LocalExporters", "Store", "connect", "default_path", "open_exporters"]
