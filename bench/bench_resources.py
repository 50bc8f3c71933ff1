"""Cost of one collection cycle of the resource metrics (process + system via psutil, GPU via NVML
when present), measured as the extra time of a metric reader's collect, side by side with an
empty reader in one run. Results: bench/results/resources.json.

    python bench/bench_resources.py
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from agent_otel.resources import gpu, host, start_resource_metrics

ROUNDS = 200


def per_collect_ms(reader: InMemoryMetricReader) -> float:
    samples = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        reader.get_metrics_data()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def main() -> None:
    empty = InMemoryMetricReader()
    MeterProvider(metric_readers=[empty])
    full = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[full])
    gpu_on = start_resource_metrics(provider)
    fake = InMemoryMetricReader()
    fake_provider = MeterProvider(metric_readers=[fake])
    gpu.register(fake_provider.get_meter("bench"), _Recorded())
    base, with_resources, with_recorded_gpu = per_collect_ms(empty), per_collect_ms(full), per_collect_ms(fake)
    host.stop()
    out = {
        "what": f"median wall time of one metric collection over {ROUNDS} rounds, one process",
        "empty_reader_ms": round(base, 4),
        "process_and_system_ms": round(with_resources, 4),
        "gpu_via_nvml": gpu_on,
        "gpu_instruments_with_recorded_readings_ms": round(with_recorded_gpu, 4),
        "overhead_per_cycle_ms": round(with_resources - base, 4),
    }
    print(json.dumps(out, indent=2))
    path = Path(__file__).parent / "results" / "resources.json"
    path.write_text(json.dumps(out, indent=2))


class _Recorded:
    def read(self):  # noqa: ANN201
        return [gpu.GpuReading(i, "GPU", f"GPU-{i}", 0.5, 2**30, 2**34, 50.0, 100.0, {1: 2**20}) for i in range(4)]


if __name__ == "__main__":
    main()
