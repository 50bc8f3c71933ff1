"""Measure an ONNX model as a candidate: latency, throughput, memory, size, and outputs to compare.

Every candidate runs the same representative inputs; the outputs are kept so accuracy is judged
against the original model's outputs, not against a guess.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from agent_otel.errors import ModelError  # noqa: F401  (re-exported)


@dataclass
class Measurement:
    name: str
    size_bytes: int
    latency_p50_ms: float
    latency_p95_ms: float
    throughput_per_s: float
    memory_bytes: int
    outputs: list[np.ndarray] = field(repr=False, default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name, "settings": self.settings, "size_bytes": self.size_bytes,
            "latency_p50_ms": round(self.latency_p50_ms, 4), "latency_p95_ms": round(self.latency_p95_ms, 4),
            "throughput_per_s": round(self.throughput_per_s, 2), "memory_bytes": self.memory_bytes,
        }


def load_session(model: str | bytes, *, level: str = "all", threads: int = 0, provider: str = "CPUExecutionProvider") -> Any:
    import onnxruntime as ort

    levels = {
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    if provider not in ort.get_available_providers():
        raise ModelError(f"execution provider {provider!r} is not available here; available: {', '.join(ort.get_available_providers())}")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = levels[level]
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(model, sess_options=opts, providers=[provider])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
        where = model if isinstance(model, str) else "<bytes>"
        raise ModelError(f"{where}: not a loadable ONNX model ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None


def check_inputs(session: Any, feed: dict[str, np.ndarray]) -> None:
    """Inputs named and shaped as the model declares (symbolic dims accept any size)."""
    declared = {i.name: i for i in session.get_inputs()}
    missing = set(declared) - set(feed)
    if missing:
        raise ModelError(f"inputs missing: {', '.join(sorted(missing))} (model takes {', '.join(declared)})")
    for name, value in feed.items():
        if name not in declared:
            raise ModelError(f"input {name!r} is not an input of the model (it takes {', '.join(declared)})")
        shape = declared[name].shape
        if len(shape) != value.ndim or any(isinstance(d, int) and d != v for d, v in zip(shape, value.shape)):
            raise ModelError(f"input {name!r} has shape {list(value.shape)}, the model expects {shape}")


def random_inputs(session: Any, batch: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """Representative inputs when the user gives none: the declared shapes, symbolic dims = batch."""
    rng = np.random.default_rng(seed)
    feed = {}
    for i in session.get_inputs():
        shape = [d if isinstance(d, int) else batch for d in i.shape]
        if "float" not in i.type:
            raise ModelError(f"input {i.name!r} is {i.type}: give representative inputs with --inputs FILE.npz")
        feed[i.name] = rng.standard_normal(shape).astype(np.float32)
    return feed


def peak_memory(model: str, feed: dict[str, np.ndarray], **session_kw: Any) -> int:
    """Peak RSS that loading and running the model adds, measured in a fresh process (an allocator
    that kept memory from an earlier candidate would hide it in this one)."""
    import json
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        inputs = os.path.join(tmp, "feed.npz")
        np.savez(inputs, **feed)
        proc = subprocess.run(
            [sys.executable, "-m", "agent_otel.optimize.peakmem", model, inputs, json.dumps(session_kw)],
            capture_output=True, text=True, timeout=300,
        )
    if proc.returncode != 0:
        raise ModelError(f"{model}: measuring memory failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
    return int(proc.stdout.strip())


def measure(name: str, model: str | bytes, feed: dict[str, np.ndarray], *, runs: int = 50, warmup: int = 5, settings: dict[str, Any] | None = None,
            memory: bool = True, **session_kw: Any) -> Measurement:
    session = load_session(model, **session_kw)
    check_inputs(session, feed)
    outputs = session.run(None, feed)
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - t0)
    peak = peak_memory(model, feed, **session_kw) if memory and isinstance(model, str) else 0
    batch = next(iter(feed.values())).shape[0] if feed else 1
    size = os.path.getsize(model) if isinstance(model, str) else len(model)
    lat = np.asarray(times) * 1e3
    return Measurement(
        name=name, size_bytes=size, latency_p50_ms=float(np.percentile(lat, 50)), latency_p95_ms=float(np.percentile(lat, 95)),
        throughput_per_s=batch / (float(np.median(lat)) / 1e3), memory_bytes=int(peak), outputs=outputs, settings=settings or {},
    )


def compare_outputs(reference: list[np.ndarray], candidate: list[np.ndarray]) -> dict[str, float]:
    """max abs error, cosine similarity and relative L2 error over all outputs."""
    ref = np.concatenate([np.asarray(r, dtype=np.float64).ravel() for r in reference])
    got = np.concatenate([np.asarray(c, dtype=np.float64).ravel() for c in candidate])
    if ref.shape != got.shape:
        return {"max_abs_error": float("inf"), "cosine": 0.0, "relative_error": float("inf")}
    diff = got - ref
    denom = np.linalg.norm(ref) * np.linalg.norm(got)
    return {
        "max_abs_error": float(np.abs(diff).max()) if diff.size else 0.0,
        "cosine": float(ref @ got / denom) if denom else 1.0,
        "relative_error": float(np.linalg.norm(diff) / np.linalg.norm(ref)) if np.linalg.norm(ref) else 0.0,
    }
