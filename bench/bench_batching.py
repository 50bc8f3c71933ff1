"""Throughput of `DynamicBatcher` against one session run per call, at 1, 8 and 32 concurrent callers,
side by side in one run (same model, same inputs). Target (issue): >= 3x at 32 callers.
    python bench/bench_batching.py       # writes bench/results/batching.json
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from agent_otel.optimize import DynamicBatcher
from agent_otel.optimize.models import mlp_bytes

REQUESTS = 1024


async def unbatched(session: ort.InferenceSession, callers: int, samples: list[np.ndarray]) -> float:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(callers)

    async def one(x: np.ndarray) -> None:
        async with gate:
            await loop.run_in_executor(None, session.run, None, {"x": x[None, :]})

    t0 = time.perf_counter()
    await asyncio.gather(*(one(x) for x in samples))
    return len(samples) / (time.perf_counter() - t0)


async def batched(session: ort.InferenceSession, callers: int, samples: list[np.ndarray]) -> float:
    batcher = DynamicBatcher(session, max_batch_size=32, max_wait_ms=2)
    gate = asyncio.Semaphore(callers)

    async def one(x: np.ndarray) -> None:
        async with gate:
            await batcher.submit({"x": x})

    t0 = time.perf_counter()
    await asyncio.gather(*(one(x) for x in samples))
    rate = len(samples) / (time.perf_counter() - t0)
    await batcher.close()
    return rate


def main() -> None:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    session = ort.InferenceSession(mlp_bytes(layers=2, hidden=512, ffn=2048), sess_options=opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    samples = [rng.standard_normal(512).astype(np.float32) for _ in range(REQUESTS)]
    results = []
    for callers in (1, 8, 32):
        plain = asyncio.run(unbatched(session, callers, samples))
        grouped = asyncio.run(batched(session, callers, samples))
        results.append({"callers": callers, "unbatched_per_s": round(plain, 1), "batched_per_s": round(grouped, 1), "gain_x": round(grouped / plain, 2)})
        print(f"{callers:>2} callers: unbatched {plain:8.1f}/s  batched {grouped:8.1f}/s  gain {grouped / plain:.2f}x")
    out = {"model": "2-layer MLP 512/2048, fp32, CPU, 2 cores", "requests": REQUESTS, "max_batch_size": 32, "max_wait_ms": 2, "target_gain_at_32": 3.0, "results": results}
    path = Path(__file__).parent / "results" / "batching.json"
    path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
