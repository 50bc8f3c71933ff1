"""Sustained load through the real pipeline: P agent processes × R spans/s for S seconds into the
local stack (one collector, or N gateways behind N agent-tier collectors with --gateways N).

Counts loss three ways: the SDKs' own drop counters, each collector's receiver/exporter counters,
and the spanmetrics call count in Prometheus (computed from every span the pipeline received).
Samples every collector's RSS against its memory_limiter bound.

    python bench/bench_load.py                      # 8 × 2000 spans/s × 60 s -> bench/results/load.json
    python bench/bench_load.py --gateways 2         # -> bench/results/gateway.json
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from agent_otel.stack import binaries, processes

ROOT = Path(__file__).resolve().parents[1]
EMIT = ROOT / "tests" / "stack" / "emit.py"
SPANS_PER_TRACE = 10
MEMORY_LIMIT_MIB = 512  # collector-config.yaml's default AGENT_OTEL_MEMORY_LIMIT_MIB


def counters(url: str) -> dict[str, float]:
    """A collector's own counters (its Prometheus telemetry endpoint), summed per metric name + exporter."""
    out: dict[str, float] = {}
    for line in httpx.get(url, timeout=10).text.splitlines():
        m = re.match(r'^(otelcol_(?:receiver|exporter|processor)_[a-z_]+_(?:spans|metric_points|log_records)(?:_total)?)(\{[^}]*\})? ([0-9.e+-]+)$', line)
        if m:
            exporter = re.search(r'exporter="([^"]+)"', m.group(2) or "")
            key = m.group(1).removesuffix("_total") + (f"[{exporter.group(1)}]" if exporter else "")
            out[key] = out.get(key, 0) + float(m.group(3))
    return out


def prom(url: str, q: str) -> float:
    r = httpx.get(f"{url}/api/v1/query", params={"query": q}, timeout=10).json()
    return sum(float(s["value"][1]) for s in r["data"]["result"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--rate", type=float, default=2000, help="spans/s per process")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--gateways", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    out = args.out or ROOT / "bench" / "results" / ("gateway.json" if args.gateways else "load.json")
    for program in (binaries.COLLECTOR, binaries.JAEGER, binaries.LOKI, binaries.PROMETHEUS):
        binaries.install(program, lambda _l: None)
    with tempfile.TemporaryDirectory() as d:
        stack = processes.up(d, processes.Ports.free(), timeout_s=120, gateways=args.gateways, sampling={"AGENT_OTEL_SAMPLING_PERCENT": "10"})
        try:
            result = run(stack, args)
        finally:
            processes.down(d)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["summary"], indent=2))
    print(f"wrote {out}")


def run(stack: processes.Stack, args: argparse.Namespace) -> dict:
    collectors = [p for p in stack.procs if p.name.startswith(("collector", "gateway"))]
    agent_tier = [p for p in collectors if p.name.startswith("collector")]
    rss: dict[str, float] = {p.name: 0.0 for p in collectors}
    stop = threading.Event()

    def sample() -> None:
        handles = {p.name: psutil.Process(p.pid) for p in collectors}
        while not stop.is_set():
            for name, h in handles.items():
                rss[name] = max(rss[name], h.memory_info().rss / 2**20)
            time.sleep(0.5)

    threading.Thread(target=sample, daemon=True).start()
    traces_per_s = args.rate / SPANS_PER_TRACE
    children = []
    t0 = time.monotonic()
    for i in range(args.procs):
        endpoint = f"http://127.0.0.1:{agent_tier[i % len(agent_tier)].env['AGENT_OTEL_OTLP_GRPC_ENDPOINT'].rsplit(':', 1)[1]}"
        children.append(subprocess.Popen(
            [sys.executable, str(EMIT), endpoint, f"load-{i}", str(args.seconds), str(traces_per_s), "--no-logs", "--spans-per-trace", str(SPANS_PER_TRACE)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    reports = []
    for c in children:
        o, e = c.communicate(timeout=args.seconds + 300)
        if c.returncode != 0:
            raise SystemExit(f"emitter failed: {e[-2000:]}")
        reports.append(json.loads(o.strip().splitlines()[-1]))
    load_s = time.monotonic() - t0
    sent = sum(r["spans"] for r in reports)
    # wait for the pipeline to drain: spanmetrics in Prometheus counts every span the collectors got
    prom_url = stack.urls["prometheus"]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and prom(prom_url, 'sum(traces_span_metrics_calls_total{service_name=~"load-.*"})') < sent:
        time.sleep(2)
    stop.set()
    counted = {p.name: counters(p.urls["telemetry"]) for p in collectors}
    sdk_drops = prom(prom_url, 'sum(otel_sdk_processor_span_processed_total{service_name=~"load-.*", error_type!=""})') + prom(
        prom_url, 'sum(otel_sdk_exporter_span_exported_total{service_name=~"load-.*", error_type!=""})')
    span_calls = prom(prom_url, 'sum(traces_span_metrics_calls_total{service_name=~"load-.*"})')

    def c(name: str, key: str) -> float:
        return counted[name].get(key, 0.0)

    per_collector = {
        name: {
            "accepted_spans": c(name, "otelcol_receiver_accepted_spans"),
            "refused_spans": c(name, "otelcol_receiver_refused_spans"),
            "send_failed_spans": sum(v for k, v in counted[name].items() if k.startswith("otelcol_exporter_send_failed_spans")),
            "enqueue_failed_spans": sum(v for k, v in counted[name].items() if k.startswith("otelcol_exporter_enqueue_failed_spans")),
            "peak_rss_mib": round(rss[name], 1),
            "spans_per_s": round(c(name, "otelcol_receiver_accepted_spans") / load_s),
        }
        for name in counted
    }
    summary = {
        "processes": args.procs, "target_spans_per_s_per_process": args.rate, "seconds": args.seconds, "gateways": args.gateways,
        "spans_sent": sent, "sustained_spans_per_s": round(sent / max(r["seconds"] for r in reports)),
        "achieved_share_of_target": round(sent / (args.procs * args.rate * args.seconds), 3),
        "sdk_counted_drops": sdk_drops, "spanmetrics_calls": span_calls,
        "lost_in_pipeline": sent - sdk_drops - span_calls,
        "collector_peak_rss_mib": {n: v["peak_rss_mib"] for n, v in per_collector.items()},
        "memory_limiter_mib": MEMORY_LIMIT_MIB,
        "refused_or_failed_spans": sum(v["refused_spans"] + v["send_failed_spans"] + v["enqueue_failed_spans"] for v in per_collector.values()),
    }
    if args.gateways:
        summary["gateway_spans_per_s"] = {n: v["spans_per_s"] for n, v in per_collector.items() if n.startswith("gateway")}
    return {"summary": summary, "collectors": per_collector, "machine": {"cpus": psutil.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30)}}


if __name__ == "__main__":
    main()
