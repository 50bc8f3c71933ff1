"""Throughput of `DynamicBatcher` against one session run per call (`loop.run_in_executor`, as a
caller without a batcher would write it), at 1, 2, 4, 8, 16, 32 and 64 concurrent callers, side
by side in one run (same model, same inputs, same process, same event loop).

Each round sends the 1024 requests through both sides in alternating chunks (8 callers' worth,
at least 128 requests: plain, batched, batched, plain, ...), so a burst of load from elsewhere on
a shared machine hits both sides alike; a round's ratio is batched/plain requests per second over
its chunks, and the result is the median of `--rounds` rounds, with their min and max. One
batcher serves all rounds of a concurrency level, as in a service (its first round includes what
it measures before choosing: grouping, loop thread or pool; the re-trials stay in every round);
the plain side uses the loop's default executor throughout.
Targets (issue 20): >= 1.0x at every concurrency, >= 4x at 32 callers.

    python bench/bench_batching.py [--rounds 9]      # writes bench/results/batching.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from agent_otel.optimize import DynamicBatcher
from agent_otel.optimize.models import mlp_bytes

REQUESTS = 1024
CALLERS = (1, 2, 4, 8, 16, 32, 64)


async def unbatched(session: ort.InferenceSession, callers: int, samples: list[np.ndarray]) -> float:
    """Seconds to answer `samples` with at most `callers` in flight, one session run each."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(callers)

    async def one(x: np.ndarray) -> None:
        async with gate:
            await loop.run_in_executor(None, session.run, None, {"x": x[None, :]})

    t0 = time.perf_counter()
    await asyncio.gather(*(one(x) for x in samples))
    return time.perf_counter() - t0


async def batched(batcher: DynamicBatcher, callers: int, samples: list[np.ndarray]) -> float:
    """Seconds to answer `samples` with at most `callers` in flight, through the batcher."""
    gate = asyncio.Semaphore(callers)

    async def one(x: np.ndarray) -> None:
        async with gate:
            await batcher.submit({"x": x})

    t0 = time.perf_counter()
    await asyncio.gather(*(one(x) for x in samples))
    return time.perf_counter() - t0


def counted(batcher: DynamicBatcher) -> list[int]:
    """The sizes of the batcher's runs from now on (every successful run ends in `policy.observe`)."""
    sizes: list[int] = []
    observe = batcher.policy.observe

    def counting(size: int, seconds: float) -> None:
        sizes.append(size)
        observe(size, seconds)

    batcher.policy.observe = counting  # type: ignore[method-assign]
    return sizes


async def one_round(session: ort.InferenceSession, batcher: DynamicBatcher, sizes: list[int], callers: int, samples: list[np.ndarray],
                    plain_first: bool) -> tuple[float, float, float]:
    """(plain requests/s, batched requests/s, mean requests per batched run) over alternating chunks."""
    sizes.clear()
    chunk = max(128, 8 * callers)
    plain_s = batched_s = 0.0
    for i, start in enumerate(range(0, len(samples), chunk)):
        part = samples[start:start + chunk]
        if (i % 2 == 0) == plain_first:
            plain_s += await unbatched(session, callers, part)
            batched_s += await batched(batcher, callers, part)
        else:
            batched_s += await batched(batcher, callers, part)
            plain_s += await unbatched(session, callers, part)
    return len(samples) / plain_s, len(samples) / batched_s, len(samples) / max(len(sizes), 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    session = ort.InferenceSession(mlp_bytes(layers=2, hidden=512, ffn=2048), sess_options=opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    samples = [rng.standard_normal(512).astype(np.float32) for _ in range(REQUESTS)]
    asyncio.run(unbatched(session, 4, samples[:128]))  # warm the session and the thread pool
    load_start = os.getloadavg()[0]
    results = []
    for callers in CALLERS:
        plain_runs, batched_runs, ratios, mean_sizes = [], [], [], []
        batcher = DynamicBatcher(session, max_batch_size=32)  # one per concurrency, for all its rounds, as in a service
        sizes = counted(batcher)
        for r in range(args.rounds):
            p, b, size = asyncio.run(one_round(session, batcher, sizes, callers, samples, plain_first=r % 2 == 0))
            plain_runs.append(p)
            batched_runs.append(b)
            ratios.append(b / p)
            mean_sizes.append(size)
        row = {"callers": callers, "unbatched_per_s": round(statistics.median(plain_runs), 1), "batched_per_s": round(statistics.median(batched_runs), 1),
               "gain_x": round(statistics.median(ratios), 3), "gain_x_min": round(min(ratios), 3), "gain_x_max": round(max(ratios), 3),
               "mean_batch_size": round(statistics.median(mean_sizes), 2)}
        results.append(row)
        print(f"{callers:>2} callers: unbatched {row['unbatched_per_s']:8.1f}/s  batched {row['batched_per_s']:8.1f}/s  "
              f"gain {row['gain_x']:.2f}x (min {row['gain_x_min']:.2f}, max {row['gain_x_max']:.2f})  mean batch {row['mean_batch_size']:.1f}", flush=True)
    out = {"model": "2-layer MLP 512/2048, fp32, CPU, intra-op threads 2", "requests": REQUESTS, "max_batch_size": 32,
           "rounds": args.rounds,
           "ratio": "median over rounds of batched/unbatched requests per second; each round sends the requests through both sides "
                    "in alternating chunks of max(128, 8 x callers) in one event loop",
           "baseline": "one session.run per request through loop.run_in_executor (default executor), same concurrency limit",
           "batcher": "one DynamicBatcher (defaults, max_batch_size 32) per concurrency level, serving all its rounds as in a service",
           "load_average_1m_at_start": round(load_start, 2), "load_average_1m_at_end": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
           "targets": {"min_gain_every_concurrency": 1.0, "min_gain_at_32": 4.0}, "results": results,
           "met": all(r["gain_x"] >= 1.0 for r in results) and next(r["gain_x"] for r in results if r["callers"] == 32) >= 4.0}
    path = Path(__file__).parent / "results" / "batching.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
