"""Counting what reached the real backends, through each one's own query API (stack tests)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import httpx


def poll(fetch: Callable[[], Any], until: Callable[[Any], bool] = bool, timeout: float = 60, every: float = 1.0) -> Any:
    """fetch() until `until(result)` holds or the timeout passes; the last result either way."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fetch()
        except (httpx.HTTPError, KeyError, ValueError):
            last = None
        if last is not None and until(last):
            return last
        time.sleep(every)
    return last


def prom_value(prometheus: str, promql: str) -> float:
    """Sum of an instant query's samples (0 when empty)."""
    r = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=10).json()
    return sum(float(s["value"][1]) for s in r["data"]["result"])


def sdk_drops(prometheus: str, selector: str) -> float:
    """Spans the apps' SDKs counted as lost (queue full, or export failed for good), from their own
    exported metrics; `selector` picks the apps, e.g. 'service_name="x"'."""
    sel = f'{selector}, error_type!=""'
    return prom_value(prometheus, f"sum(otel_sdk_processor_span_processed_total{{{sel}}})") + prom_value(
        prometheus, f"sum(otel_sdk_exporter_span_exported_total{{{sel}}})"
    )


def collector_counters(url: str) -> dict[str, float]:
    """A collector's own span/point/record counters (its telemetry endpoint), summed per metric name
    and exporter: {"otelcol_receiver_accepted_spans": n, "otelcol_exporter_send_failed_spans[otlp/jaeger]": n, ...}."""
    out: dict[str, float] = {}
    for line in httpx.get(url, timeout=10).text.splitlines():
        m = re.match(r'^(otelcol_(?:receiver|exporter|processor)_[a-z_]+_(?:spans|metric_points|log_records)(?:_total)?)(\{[^}]*\})? ([0-9.e+-]+)$', line)
        if m:
            exporter = re.search(r'exporter="([^"]+)"', m.group(2) or "")
            key = m.group(1).removesuffix("_total") + (f"[{exporter.group(1)}]" if exporter else "")
            out[key] = out.get(key, 0) + float(m.group(3))
    return out


def jaeger_trace_ids(jaeger: str, service: str, limit: int = 100_000, lookback_s: int = 3600, tags: dict[str, str] | None = None) -> dict[str, int]:
    """trace id -> number of spans, for the service's traces in Jaeger (optionally with span tags)."""
    now_us = time.time_ns() // 1000
    params = {"service": service, "limit": limit, "start": now_us - lookback_s * 10**6, "end": now_us}
    if tags:
        params["tags"] = json.dumps(tags)
    r = httpx.get(f"{jaeger}/api/traces", params=params, timeout=60)
    return {t["traceID"]: len(t["spans"]) for t in (r.json().get("data") or [])}


def loki_count(loki: str, service: str, window: str = "1h") -> float:
    now = time.time_ns()
    r = httpx.get(f"{loki}/loki/api/v1/query", params={"query": f'sum(count_over_time({{service_name="{service}"}}[{window}]))', "time": str(now)}, timeout=30).json()
    return sum(float(s["value"][1]) for s in r["data"]["result"])
