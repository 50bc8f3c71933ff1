"""`optimize()`: try candidate settings of an ONNX model, keep the fastest that still gives the same answers.

Candidates: graph optimisation levels, thread counts, int8 dynamic quantization in several
configurations (the reference notes its accuracy depends on weight type, per-channel and
reduce_range, so each is gated against the original's outputs rather than trusted), static
quantization when a calibration set is given, and every execution provider available here.
Each candidate is measured on the same inputs and emitted as a span with its figures.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import agent_otel
from agent_otel.optimize.measure import Measurement, ModelError, compare_outputs, load_session, measure, random_inputs

DEFAULT_TOLERANCE = 0.02  # relative L2 error of the outputs


@dataclass
class Candidate:
    name: str
    settings: dict[str, Any]
    model_path: str
    session: dict[str, Any]


class _QuietQuantizer(logging.Filter):
    """onnxruntime's quantizer logs the same pre-processing advice on the root logger every call."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextlib.contextmanager
def _quiet() -> Any:
    root = logging.getLogger()
    quiet = _QuietQuantizer()
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)


def _quantized(src: str, work: Path, name: str, **kw: Any) -> str:
    from onnxruntime.quantization import quantize_dynamic

    out = work / f"{name}.onnx"
    with _quiet():
        quantize_dynamic(src, str(out), **kw)
    return str(out)


def _static(src: str, work: Path, calibration: dict[str, np.ndarray]) -> str:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            n = len(next(iter(calibration.values())))
            self._items = iter([{k: v[i : i + 1] for k, v in calibration.items()} for i in range(n)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._items, None)

    out = work / "int8-static.onnx"
    with _quiet():
            quantize_static(src, str(out), Reader(), quant_format=QuantFormat.QDQ, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
    return str(out)


def candidates(model: str, work: Path, calibration: dict[str, np.ndarray] | None, threads: list[int]) -> list[Candidate]:
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType

    out = [Candidate("original", {}, model, {})]
    for level in ("disabled", "basic", "extended"):
        out.append(Candidate(f"graph-{level}", {"graph_optimization_level": level}, model, {"level": level}))
    for t in threads:
        out.append(Candidate(f"threads-{t}", {"intra_op_num_threads": t}, model, {"threads": t}))
    for weight in (QuantType.QInt8, QuantType.QUInt8):
        for per_channel in (False, True):
            for reduce_range in (False, True):
                name = f"int8-dynamic-{'s8' if weight == QuantType.QInt8 else 'u8'}{'-perchannel' if per_channel else ''}{'-reducerange' if reduce_range else ''}"
                try:
                    path = _quantized(model, work, name, weight_type=weight, per_channel=per_channel, reduce_range=reduce_range)
                except Exception as exc:  # noqa: BLE001 - one failing configuration is a rejected candidate
                    out.append(Candidate(name, {"error": str(exc)[:200]}, "", {}))
                    continue
                out.append(Candidate(name, {"quantization": "dynamic", "weight_type": str(weight), "per_channel": per_channel, "reduce_range": reduce_range}, path, {}))
    if calibration:
        out.append(Candidate("int8-static-qdq", {"quantization": "static", "format": "QDQ"}, _static(model, work, calibration), {}))
    for provider in ort.get_available_providers():
        if provider not in ("CPUExecutionProvider", "AzureExecutionProvider"):  # Azure EP calls a remote endpoint
            out.append(Candidate(f"provider-{provider}", {"provider": provider}, model, {"provider": provider}))
    return out


def optimize(
    model: str | Path,
    output: str | Path,
    *,
    inputs: dict[str, np.ndarray] | None = None,
    calibration: dict[str, np.ndarray] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    runs: int = 50,
    threads: list[int] | None = None,
    memory: bool = True,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Measure every candidate, write the best model to `output`, return the report (also as JSON next to it)."""
    model = str(model)
    if not Path(model).is_file():
        raise ModelError(f"{model}: no such file")
    base_session = load_session(model)
    feed = inputs if inputs is not None else random_inputs(base_session)
    threads = threads or sorted({1, 2})
    with tempfile.TemporaryDirectory() as tmp, agent_otel.workflow("optimize", attributes={"model.path": model}):
        progress("quantizing")
        cands = candidates(model, Path(tmp), calibration, threads)
        results: list[dict[str, Any]] = []
        measured: dict[str, Measurement] = {}
        reference: Measurement | None = None
        for cand in cands:
            progress(f"measuring {cand.name}")
            with agent_otel.step("optimize.candidate", attributes={"candidate": cand.name}) as span:
                row: dict[str, Any] = {"name": cand.name, "settings": cand.settings}
                if not cand.model_path:
                    row.update(accepted=False, reason=cand.settings.get("error", "could not be built"))
                    results.append(row)
                    continue
                try:
                    m = measure(cand.name, cand.model_path, feed, runs=runs, settings=cand.settings, memory=memory, **cand.session)
                except ModelError as exc:
                    if cand.name == "original":
                        raise
                    row.update(accepted=False, reason=str(exc))
                    results.append(row)
                    continue
                reference = reference or m
                acc = compare_outputs(reference.outputs, m.outputs)
                accepted = acc["relative_error"] <= tolerance
                row.update(m.summary(), accuracy=acc, accepted=accepted)
                if not accepted:
                    row["reason"] = f"relative output error {acc['relative_error']:.4f} > tolerance {tolerance}"
                for key in ("latency_p50_ms", "latency_p95_ms", "throughput_per_s", "size_bytes", "memory_bytes"):
                    span.set_attribute(f"optimize.{key}", row[key])
                span.set_attribute("optimize.relative_error", acc["relative_error"])
                span.set_attribute("optimize.accepted", accepted)
                measured[cand.name] = m
                results.append(row)
        assert reference is not None
        best_row = min((r for r in results if r.get("accepted")), key=lambda r: (r["latency_p50_ms"], r["size_bytes"]))
        best_path = next(c.model_path for c in cands if c.name == best_row["name"])
        out = Path(output)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(best_path, out)
    base = measured["original"]
    best = measured[best_row["name"]]
    report = {
        "model": model,
        "output": str(out),
        "tolerance": tolerance,
        "inputs": {k: list(v.shape) for k, v in feed.items()},
        "input_dtypes": {k: str(v.dtype) for k, v in feed.items()},
        "inputs_from": "given" if inputs is not None else "random, in the model's declared shapes",
        "best": best_row["name"],
        "best_settings": best_row["settings"],
        "gains": {
            "speedup_pct": round((base.latency_p50_ms / best.latency_p50_ms - 1) * 100, 1),
            "speedup_x": round(base.latency_p50_ms / best.latency_p50_ms, 2),
            "size_reduction_pct": round((1 - best.size_bytes / base.size_bytes) * 100, 1),
            "memory_reduction_pct": round((1 - best.memory_bytes / base.memory_bytes) * 100, 1) if base.memory_bytes else None,
        },
        "candidates": results,
    }
    Path(str(out) + ".report.json").write_text(json.dumps(report, indent=2))
    return report
