"""Report time against the number of spans in the window: 10k, 100k, 1M and 10M spans from 100 agents.

Synthetic traces (agent -> plan llm, retrieve step -> tool, answer llm; 3 % tool errors;
lognormal durations) are generated as numpy columns and written in bulk, 50,000 rows per
`Store.write` — the store's own insert and the same summariser the SDK's exporter runs, not the
SDK (10M spans through the SDK would take hours here). Traces start 1 ms apart (10M spans span
33 minutes). Then `build_report` runs over the whole window: from the summaries (the default for
big windows: hour and 10-minute block rows where the window holds the block whole, minute rows
for the rest, localstore/block_summaries.py) and, up to `--raw-max`, from raw spans (the old way), side by side in
one process, each `--repeat` times (median); the machine's load average is recorded with them.
The same window is also timed with its start cut mid-minute (that minute answered from its span
columns, localstore/edge_columns.py).

Stores are kept under `--cache` (default: a directory in the system temp dir), keyed by the span
count, the generator's parameters and a hash of the write path's source (so a changed summariser
regenerates them): the 10M store takes minutes to write, and a rerun reuses it.

    python bench/bench_report.py [--max 10000000] [--raw-max 1000000] [--cache DIR]   # -> bench/results/report.json
"""

from __future__ import annotations

import argparse
import hashlib
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


GENERATOR = {"spans_per_trace": SPANS_PER_TRACE, "agents": AGENTS, "batch_traces": BATCH_TRACES, "trace_gap_ms": 1, "seed": 0, "version": 2}
WRITE_PATH = ("localstore/store.py", "localstore/summaries.py", "localstore/edge_columns.py", "localstore/block_summaries.py", "localstore/exporters.py")


def cached_store(cache: Path, n: int) -> tuple[Path, int, float | None]:
    """The store of `n` generated spans (path, first span's start, seconds it took to write; None
    when reused). Written once per generator parameters and write-path source."""
    import agent_otel

    src = Path(agent_otel.__file__).parent
    digest = hashlib.sha256(json.dumps(GENERATOR, sort_keys=True).encode())
    for name in WRITE_PATH:
        digest.update((src / name).read_bytes())
    path = cache / f"report-{n}-{digest.hexdigest()[:12]}.db"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, json.loads(meta.read_text())["t0"], None
    cache.mkdir(parents=True, exist_ok=True)
    for old in cache.glob(f"report-{n}-*"):  # an older generation of this size
        old.unlink()
    # three hours ago (well inside retention), not on a minute boundary
    t0 = (time.time_ns() - 3 * 3600 * 10**9) // 60_000_000_000 * 60_000_000_000 + 12_345_678_901
    store = Store(path, max_spans=n * 2)
    w0 = time.perf_counter()
    write(store, n, t0)
    store.close()
    write_s = time.perf_counter() - w0
    meta.write_text(json.dumps({"t0": t0, "spans": n, "write_seconds": write_s, "generator": GENERATOR}))
    return path, t0, write_s


CPU: dict[str, float] = {}  # median process CPU seconds of the last `timed` call


def timed(fn, repeat: int) -> tuple[float, dict]:  # noqa: ANN001
    """Median wall seconds of `fn` over `repeat` runs (its process CPU seconds' median into CPU["last"]:
    on a shared machine wall time includes waiting for a core, CPU time does not)."""
    times, cpu, out = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    CPU["last"] = statistics.median(cpu)
    return statistics.median(times), out


def _commit() -> str | None:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=10_000_000)
    ap.add_argument("--raw-max", type=int, default=1_000_000, help="largest window also reported from raw spans (the old way)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "agent-otel-bench-report"), help="where generated stores are kept")
    args = ap.parse_args()
    sizes = [s for s in (10_000, 100_000, 1_000_000, 10_000_000) if s <= args.max]
    results = []
    for n in sizes:
        path, t0, write_s = cached_store(Path(args.cache), n)
        src = LocalSource(path)
        end = time.time_ns()
        load = os.getloadavg()[0]
        summary_s, rep = timed(lambda: build_report(src, t0, end).to_dict(), args.repeat)
        assert rep["totals"]["spans"] == n // SPANS_PER_TRACE * SPANS_PER_TRACE, rep["totals"]
        row = {"spans": rep["totals"]["spans"], "traces": rep["totals"]["traces"], "agents": AGENTS, "minutes": round((end - t0) / 6e10, 1),
               "report_seconds": round(summary_s, 4), "report_cpu_seconds": round(CPU["last"], 4), "figures_from": rep.get("figures_from"), "analysis_seconds_in_report": rep.get("analysis_seconds"),
               "write_seconds": round(write_s, 1) if write_s is not None else "reused a cached store"}
        # the same window with its start cutting a minute in the middle of the data
        cut = t0 + (n // SPANS_PER_TRACE) * 1_000_000 // 2
        cut_s, cut_rep = timed(lambda: build_report(src, cut, end).to_dict(), args.repeat)
        row["report_seconds_window_cut_mid_minute"] = round(cut_s, 4)
        row["report_cpu_seconds_window_cut_mid_minute"] = round(CPU["last"], 4)
        row["cut_window_spans"] = cut_rep["totals"]["spans"]
        if n <= args.raw_max:
            raw_s, raw = timed(lambda: build_report(src, t0, end, summaries="never").to_dict(), max(1, args.repeat // 2))
            row["raw_report_seconds"] = round(raw_s, 4)
            row["speedup_x"] = round(raw_s / summary_s, 1)
        else:
            row["raw_report_seconds"] = f"skipped: above --raw-max {args.raw_max} (the raw path reads every span into Python: about 10x the 1M raw time)"
        row["load_average_1m"] = [round(load, 2), round(os.getloadavg()[0], 2)]  # before, after
        results.append(row)
        print(json.dumps(row), flush=True)
    out = {
        "what": "build_report over a local-store window holding N spans from 100 agents: from the summaries (default: hour and 10-minute block rows, minute rows, "
                "edge minutes' span columns) and from raw spans "
                "(old way, up to --raw-max), side by side in one process; median of repeats; load average recorded (2-core shared machine)",
        "generated": "numpy columns, 50k rows per Store.write (the store's insert + summariser), not through the SDK; traces 1 ms apart; "
                     "stores cached by generator parameters and write-path source hash",
        "cpu": os.cpu_count(), "code": _commit(),
        "targets": {"1M_seconds": 0.1, "10M_seconds": 0.3}, "results": results,
    }
    path = Path(__file__).parent / "results" / "report.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
