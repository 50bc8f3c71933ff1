"""Resource metrics: process and system (psutil) and GPU (NVML), as OTel observable instruments.

Switched on with `configure(resource_metrics=True)`; collected at the metric reader's interval
(`configure(metric_interval=...)`).
"""

from __future__ import annotations

from typing import Any

from opentelemetry import metrics

from agent_otel.resources import gpu, host


def start_resource_metrics(meter_provider: Any = None, *, gpu_reader: gpu.GpuReader | None = None, with_gpu: bool = True) -> bool:
    """Register the instruments; returns whether GPU metrics are on."""
    provider = meter_provider or metrics.get_meter_provider()
    host.start(provider)
    if not with_gpu:
        return False
    return gpu.start(provider.get_meter("agent_otel.resources"), gpu_reader)


__all__ = ["start_resource_metrics"]
