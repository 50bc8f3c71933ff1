"""Report time against the number of spans in the window: 10k, 100k, 1M and 10M spans from 100 agents.

Synthetic traces (agent -> plan llm, retrieve step -> tool, answer llm; 3 % tool errors;
lognormal durations) are generated as numpy columns and written in bulk, 50,000 rows per
`Store.write` — the store's own insert and the same summariser the SDK's exporter runs, not the
SDK (10M spans through the SDK would take hours here). Traces start 1 ms apart (10M spans span
33 minutes). Then `build_report` runs over the whole window: from the per-minute summaries (the
default for big windows) and, up to `--raw-max`, from raw spans (the old way), side by side in
one process, each `--repeat` times (median); the machine's load average is recorded with them.

    python bench/bench_report.py [--max 10000000] [--raw-max 1000000]   # -> bench/results/report.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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
BATCH_TRACES = 10_000  # 50,000 rows per write


def rows_of(first_trace: int, traces: int, t0: int, rng: np.random.Generator, seed: int = 0) -> list[tuple]:
    """Span rows (SPAN_COLUMNS order) of `traces` traces from `first_trace` on."""
    t = np.arange(first_trace, first_trace + traces)
    start = t0 + t * 1_000_000
    d = rng.lognormal([5.5, 4.0, 3.5, 3.0, 5.0], 0.4, size=(traces, 5))  # ms: root, plan, retrieve, tool, answer
    err = rng.random(traces) < 0.03
    tid = [f"{seed:08x}{i:024x}" for i in t.tolist()]
    base = [f"{i:012x}" for i in t.tolist()]
    agent = [f"agent-{i % AGENTS:03d}" for i in t.tolist()]
    end = start[:, None] + (d * 1e6).astype(np.int64)
    s, e, dl, er = start.tolist(), end.tolist(), d.tolist(), err.tolist()
    out = []
    for i in range(traces):
        a, b, tr, st, en, du = agent[i], base[i], tid[i], s[i], e[i], dl[i]
        out += [
            (tr, b + "0001", None, a, "invoke_agent " + a, "agent", a, st, en[0], du[0], 0, None, None, None, None, None, "{}"),
            (tr, b + "0002", b + "0001", a, "chat gpt-4o-mini", "llm", "gpt-4o-mini", st, en[1], du[1], 0, None, "gpt-4o-mini", "openai", 200, 50, "{}"),
            (tr, b + "0003", b + "0001", a, "retrieve", "step", "retrieve", st, en[2], du[2], 0, None, None, None, None, None, "{}"),
            (tr, b + "0004", b + "0003", a, "execute_tool web_search", "tool", "web_search", st, en[3], du[3], int(er[i]), "Timeout" if er[i] else None,
             None, None, None, None, "{}"),
            (tr, b + "0005", b + "0001", a, "chat gpt-4o", "llm", "gpt-4o", st, en[4], du[4], 0, None, "gpt-4o", "openai", 900, 300, "{}"),
        ]
    return out


def write(store: Store, n_spans: int, t0: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    traces = n_spans // SPANS_PER_TRACE
    for first in range(0, traces, BATCH_TRACES):
        store.write("spans", SPAN_COLUMNS, rows_of(first, min(BATCH_TRACES, traces - first), t0, rng, seed))


def timed(fn, repeat: int) -> tuple[float, dict]:  # noqa: ANN001
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=10_000_000)
    ap.add_argument("--raw-max", type=int, default=1_000_000, help="largest window also reported from raw spans (the old way)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dir", default=None, help="where the stores go (default: a temporary directory)")
    args = ap.parse_args()
    sizes = [s for s in (10_000, 100_000, 1_000_000, 10_000_000) if s <= args.max]
    results = []
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        for n in sizes:
            path = Path(d) / f"bench-{n}.db"
            store = Store(path, max_spans=n * 2)
            t0 = (time.time_ns() - 3 * 3600 * 10**9) // 60_000_000_000 * 60_000_000_000 + 12_345_678_901  # not on a minute boundary
            w0 = time.perf_counter()
            write(store, n, t0)
            store.close()
            write_s = time.perf_counter() - w0
            src = LocalSource(path)
            end = time.time_ns()
            load = os.getloadavg()[0]
            summary_s, rep = timed(lambda: build_report(src, t0, end).to_dict(), args.repeat)
            assert rep["totals"]["spans"] == n // SPANS_PER_TRACE * SPANS_PER_TRACE, rep["totals"]
            row = {"spans": rep["totals"]["spans"], "traces": rep["totals"]["traces"], "agents": AGENTS, "minutes": round((end - t0) / 6e10, 1),
                   "report_seconds": round(summary_s, 4), "figures_from": rep.get("figures_from"),
                   "write_seconds": round(write_s, 1), "load_average_1m": round(load, 2)}
            # the same window with its edge cutting a minute: that minute's spans are read raw
            cut = t0 + (n // SPANS_PER_TRACE) * 1_000_000 // 2
            row["report_seconds_window_cut_mid_minute"] = round(timed(lambda: build_report(src, cut, end).to_dict(), args.repeat)[0], 4)
            if n <= args.raw_max:
                raw_s, raw = timed(lambda: build_report(src, t0, end, summaries="never").to_dict(), max(1, args.repeat // 2))
                row["raw_report_seconds"] = round(raw_s, 4)
                row["speedup_x"] = round(raw_s / summary_s, 1)
            results.append(row)
            print(json.dumps(row), flush=True)
            path.unlink()
    out = {
        "what": "build_report over a local-store window holding N spans from 100 agents: from per-minute summaries (default) and from raw spans "
                "(old way, up to --raw-max), side by side in one process; median of repeats; load average recorded (2-core shared machine)",
        "generated": "numpy columns, 50k rows per Store.write (the store's insert + summariser), not through the SDK; traces 1 ms apart",
        "targets": {"1M_seconds": 0.1, "10M_seconds": 0.3}, "results": results,
    }
    path = Path(__file__).parent / "results" / "report.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
