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
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from agent_otel.stack import binaries, processes

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # loadgen/: the load generator and the counting helpers (shared with the stack tests)
from loadgen.backends import collector_counters, poll, prom_value, sdk_drops  # noqa: E402
from loadgen.emit import spawn, summary  # noqa: E402

SPANS_PER_TRACE = 10
MEMORY_LIMIT_MIB = 512  # collector-config.yaml's default AGENT_OTEL_MEMORY_LIMIT_MIB


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
        endpoint = agent_tier[i % len(agent_tier)].urls["otlp_grpc"]
        children.append(spawn(endpoint, f"load-{i}", args.seconds, traces_per_s, "--no-logs", "--spans-per-trace", str(SPANS_PER_TRACE)))
    reports = [summary(c, timeout=args.seconds + 300) for c in children]
    load_s = time.monotonic() - t0
    sent = sum(r["spans"] for r in reports)
    # wait for the pipeline to drain: spanmetrics in Prometheus counts every span the collectors got
    prom_url, calls_q = stack.urls["prometheus"], 'sum(traces_span_metrics_calls_total{service_name=~"load-.*"})'
    span_calls = poll(lambda: prom_value(prom_url, calls_q), until=lambda v: v >= sent, timeout=180, every=2)
    stop.set()
    counted = {p.name: collector_counters(p.urls["telemetry"]) for p in collectors}
    sdk_dropped = sdk_drops(prom_url, 'service_name=~"load-.*"')

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
    totals = {
        "processes": args.procs, "target_spans_per_s_per_process": args.rate, "seconds": args.seconds, "gateways": args.gateways,
        "spans_sent": sent, "sustained_spans_per_s": round(sent / max(r["seconds"] for r in reports)),
        "achieved_share_of_target": round(sent / (args.procs * args.rate * args.seconds), 3),
        "sdk_counted_drops": sdk_dropped, "spanmetrics_calls": span_calls,
        "lost_in_pipeline": sent - sdk_dropped - span_calls,
        "collector_peak_rss_mib": {n: v["peak_rss_mib"] for n, v in per_collector.items()},
        "memory_limiter_mib": MEMORY_LIMIT_MIB,
        "refused_or_failed_spans": sum(v["refused_spans"] + v["send_failed_spans"] + v["enqueue_failed_spans"] for v in per_collector.values()),
    }
    if args.gateways:
        totals["gateway_spans_per_s"] = {n: v["spans_per_s"] for n, v in per_collector.items() if n.startswith("gateway")}
    return {"summary": totals, "collectors": per_collector, "machine": {"cpus": psutil.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30)}}


if __name__ == "__main__":
    main()
