"""Report time against the number of spans in the window: 10k, 100k, 1M spans from 100 agents.

Synthetic traces (agent -> plan llm, retrieve step -> tool, answer llm; some errors) are written
straight into a local store with the store's own row format, then `build_report` runs over the
whole window. One process, one run, sizes side by side; results in bench/results/report.json.

    python bench/bench_report.py [--max 1000000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from agent_otel.analyzer import build_report
from agent_otel.analyzer.sources.local import LocalSource
from agent_otel.localstore.exporters import SPAN_COLUMNS
from agent_otel.localstore.store import Store

SPANS_PER_TRACE = 5
AGENTS = 100


def write(store: Store, n_spans: int, t0: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    traces = n_spans // SPANS_PER_TRACE
    batch = []
    for t in range(traces):
        tid = f"{seed:08x}{t:024x}"
        agent = f"agent-{t % AGENTS:03d}"
        start = t0 + t * 1_000_000
        d = rng.lognormal([5.5, 4.0, 3.5, 3.0, 5.0], 0.4)  # ms: root, plan, retrieve, tool, answer
        err = rng.random() < 0.03
        rows = [
            (tid, f"{t:012x}0001", None, agent, f"invoke_agent {agent}", "agent", agent, start, start + int(d[0] * 1e6), d[0], 0, None, None, None, None, None, "{}"),
            (tid, f"{t:012x}0002", f"{t:012x}0001", agent, "chat gpt-4o-mini", "llm", "gpt-4o-mini", start, start + int(d[1] * 1e6), d[1], 0, None, "gpt-4o-mini", "openai", 200, 50, "{}"),
            (tid, f"{t:012x}0003", f"{t:012x}0001", agent, "retrieve", "step", "retrieve", start, start + int(d[2] * 1e6), d[2], 0, None, None, None, None, None, "{}"),
            (tid, f"{t:012x}0004", f"{t:012x}0003", agent, "execute_tool web_search", "tool", "web_search", start, start + int(d[3] * 1e6), d[3], int(err), "Timeout" if err else None, None, None, None, None, "{}"),
            (tid, f"{t:012x}0005", f"{t:012x}0001", agent, "chat gpt-4o", "llm", "gpt-4o", start, start + int(d[4] * 1e6), d[4], 0, None, "gpt-4o", "openai", 900, 300, "{}"),
        ]
        batch.extend(rows)
        if len(batch) >= 50_000:
            store.write("spans", SPAN_COLUMNS, batch)
            batch = []
    store.write("spans", SPAN_COLUMNS, batch)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=1_000_000)
    args = ap.parse_args()
    sizes = [s for s in (10_000, 100_000, 1_000_000) if s <= args.max]
    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "bench.db"
            store = Store(path)
            t0 = time.time_ns() - 3600 * 10**9
            w0 = time.perf_counter()
            write(store, n, t0)
            write_s = time.perf_counter() - w0
            r0 = time.perf_counter()
            rep = build_report(LocalSource(path), t0, time.time_ns()).to_dict()
            report_s = time.perf_counter() - r0
            assert rep["totals"]["spans"] == n // SPANS_PER_TRACE * SPANS_PER_TRACE
            results.append({"spans": rep["totals"]["spans"], "traces": rep["totals"]["traces"], "agents": AGENTS,
                            "report_seconds": round(report_s, 3), "write_seconds": round(write_s, 3),
                            "us_per_span": round(report_s / n * 1e6, 3)})
            print(f"{n:>9,} spans: report {report_s:6.2f} s ({report_s / n * 1e6:.2f} us/span); writing them took {write_s:.1f} s")
            store.close()
    out = {"what": "build_report over a local store window holding N spans from 100 agents (one process, sizes side by side)", "results": results}
    if len(results) > 1:
        out["growth_1M_vs_10k"] = round(results[-1]["report_seconds"] / results[0]["report_seconds"], 1)
    path = Path(__file__).parent / "results" / "report.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
