"""int8 dynamic quantization of a transformer-style feed-forward stack (4 layers, 768/3072), against
the fp32 original, measured side by side in one run with `agent_otel.optimize.optimize`.

Targets (issue): >= 2x faster, >= 3.5x smaller, relative output error within 2%.
    python bench/bench_quantize.py       # writes bench/results/quantize.json
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from agent_otel.optimize import optimize
from agent_otel.optimize.models import mlp_bytes


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        model = Path(d) / "mlp-4x768x3072.onnx"
        model.write_bytes(mlp_bytes(layers=4, hidden=768, ffn=3072))
        feed = {"x": np.random.default_rng(1).standard_normal((16, 768)).astype(np.float32)}
        report = optimize(model, Path(d) / "best.onnx", inputs=feed, runs=30, tolerance=0.02)
    rows = {c["name"]: c for c in report["candidates"]}
    original = rows["original"]
    best = rows[report["best"]]
    out = {
        "model": "4 transformer-style FFN blocks (x + W2 relu(W1 x)), hidden 768, ffn 3072, onnx helper API; batch 16, CPU, 2 cores",
        "best": report["best"],
        "speedup_x": round(original["latency_p50_ms"] / best["latency_p50_ms"], 2),
        "size_ratio_x": round(original["size_bytes"] / best["size_bytes"], 2),
        "relative_error": best["accuracy"]["relative_error"],
        "memory_reduction_pct": report["gains"]["memory_reduction_pct"],
        "targets": {"speedup_x": 2.0, "size_ratio_x": 3.5, "relative_error": 0.02},
        "candidates": [{k: c.get(k) for k in ("name", "latency_p50_ms", "size_bytes", "memory_bytes", "accepted")} | {"relative_error": (c.get("accuracy") or {}).get("relative_error")} for c in report["candidates"]],
    }
    out["meets_targets"] = out["speedup_x"] >= 2 and out["size_ratio_x"] >= 3.5 and out["relative_error"] <= 0.02
    print(json.dumps({k: v for k, v in out.items() if k != "candidates"}, indent=2))
    path = Path(__file__).parent / "results" / "quantize.json"
    path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
