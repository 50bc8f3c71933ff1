"""Report time against window size on the local stack: push-down (PromQL/LogQL + a bounded number of
Jaeger traces) stays flat while pulling raw spans from Jaeger grows with the spans.

Three services hold 1×, 10× and 100× the spans (4k, 40k, 400k); each is reported both ways, side by
side in one run. The raw path also stops at MAX_TRACES per service (5,000 traces), which is why it
is kept for small windows and the local store only.

    python bench/bench_pushdown.py     # -> bench/results/pushdown.json
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from agent_otel.analyzer import pushdown
from agent_otel.analyzer.report import build_report
from agent_otel.analyzer.sources.stack import StackSource
from agent_otel.stack import binaries, processes

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # loadgen/: the load generator and the counting helpers (shared with the stack tests)
from loadgen.backends import poll, prom_value  # noqa: E402
from loadgen.emit import spawn, summary  # noqa: E402

SIZES = {"pd-1x": (1, 2), "pd-10x": (4, 5), "pd-100x": (8, 25)}  # service: (processes, seconds) at 200 traces/s of 10 spans each


def main() -> None:
    for program in (binaries.COLLECTOR, binaries.JAEGER, binaries.LOKI, binaries.PROMETHEUS):
        binaries.install(program, lambda _l: None)
    with tempfile.TemporaryDirectory() as d:
        stack = processes.up(d, processes.Ports.free(), timeout_s=120)
        try:
            result = run(stack.urls)
        finally:
            processes.down(d)
    out = ROOT / "bench" / "results" / "pushdown.json"
    out.write_text(json.dumps(result, indent=2))
    for row in result["runs"]:
        print(f"{row['service']:8} {row['spans']:>8,} spans   push-down {row['pushdown_s']:6.2f} s ({row['traces_fetched']} traces fetched)   raw {row['raw_s']:6.2f} s ({row['raw_spans_read']:,} spans read)")
    print(f"wrote {out}")


def run(urls: dict[str, str]) -> dict:
    start = time.time_ns()
    sent = {}
    for service, (procs, seconds) in SIZES.items():
        children = [spawn(urls["otlp_grpc"], service, seconds, 200, "--no-logs", "--spans-per-trace", "10") for _ in range(procs)]
        sent[service] = sum(summary(c)["spans"] for c in children)
    for service, n in sent.items():  # wait until every span is counted in Prometheus and stored in Jaeger
        q = f'sum(traces_span_metrics_calls_total{{service_name="{service}"}})'
        poll(lambda q=q: prom_value(urls["prometheus"], q), until=lambda v, n=n: v >= n, timeout=120)
    time.sleep(3)
    end = time.time_ns()
    src = StackSource(jaeger=urls["jaeger_query"], prometheus=urls["prometheus"], loki=urls["loki"], timeout_s=120)
    runs = []
    for service, n in sent.items():
        t0 = time.perf_counter()
        down = pushdown.build_pushdown_report(src, start, end, service=service).to_dict()
        t1 = time.perf_counter()
        raw = build_report(src, start, end, service=service).to_dict()
        t2 = time.perf_counter()
        runs.append({"service": service, "spans": n, "pushdown_s": round(t1 - t0, 3), "raw_s": round(t2 - t1, 3),
                     "pushdown_counted_spans": down["totals"]["spans"], "traces_fetched": down["traces_fetched"], "raw_spans_read": raw["totals"]["spans"]})
    base = runs[0]
    return {"runs": runs, "pushdown_time_ratio_100x_vs_1x": round(runs[-1]["pushdown_s"] / base["pushdown_s"], 2),
            "raw_time_ratio_100x_vs_1x": round(runs[-1]["raw_s"] / base["raw_s"], 2)}


if __name__ == "__main__":
    main()
