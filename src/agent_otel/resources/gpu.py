"""GPU metrics from NVML (nvidia-ml-py), named by the OTel hardware conventions (`hw.gpu.*`).

The NVML calls sit behind `GpuReader`, so the metric code is tested with recorded device readings
on machines without a GPU. One reading of all devices serves all instruments of a collection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.semconv._incubating.metrics import hw_metrics

_logger = logging.getLogger("agent_otel.resources")

PROCESS_GPU_MEMORY = "agent_otel.gpu.process.memory.usage"  # no convention yet: per-process GPU memory


@dataclass
class GpuReading:
    index: int
    name: str
    uuid: str
    utilization: float  # 0..1
    memory_used: int  # bytes
    memory_total: int  # bytes
    temperature_c: float | None = None
    power_w: float | None = None
    processes: dict[int, int] = field(default_factory=dict)  # pid -> bytes


class GpuReader(Protocol):
    def read(self) -> list[GpuReading]: ...


class NvmlReader:
    """Real devices through pynvml; raises at construction when there is no driver or library."""

    def __init__(self) -> None:
        import pynvml

        self._nvml = pynvml
        pynvml.nvmlInit()
        self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]

    def read(self) -> list[GpuReading]:
        n = self._nvml
        out = []
        for i, h in enumerate(self._handles):
            util = n.nvmlDeviceGetUtilizationRates(h)
            mem = n.nvmlDeviceGetMemoryInfo(h)
            name = n.nvmlDeviceGetName(h)
            reading = GpuReading(
                index=i,
                name=name.decode() if isinstance(name, bytes) else name,
                uuid=str(n.nvmlDeviceGetUUID(h)),
                utilization=util.gpu / 100.0,
                memory_used=int(mem.used),
                memory_total=int(mem.total),
            )
            try:
                reading.temperature_c = float(n.nvmlDeviceGetTemperature(h, n.NVML_TEMPERATURE_GPU))
                reading.power_w = n.nvmlDeviceGetPowerUsage(h) / 1000.0
                reading.processes = {p.pid: int(p.usedGpuMemory or 0) for p in n.nvmlDeviceGetComputeRunningProcesses(h)}
            except n.NVMLError:  # not every board reports these
                pass
            out.append(reading)
        return out


class _Cached:
    """One `read()` per collection, however many instruments ask."""

    def __init__(self, reader: GpuReader, max_age_s: float = 1.0) -> None:
        self._reader, self._max_age = reader, max_age_s
        self._at, self._value = 0.0, []
        self._lock = threading.Lock()

    def get(self) -> list[GpuReading]:
        with self._lock:
            if time.monotonic() - self._at > self._max_age:
                self._value, self._at = self._reader.read(), time.monotonic()
            return self._value


def _attrs(r: GpuReading) -> dict[str, Any]:
    return {"hw.id": r.uuid, "hw.type": "gpu", "hw.name": r.name, "gpu.index": r.index}


def register(meter: Any, reader: GpuReader) -> None:
    """Observable instruments for every device the reader reports."""
    cache = _Cached(reader)

    def each(fn) -> Any:  # noqa: ANN001
        def callback(_options: CallbackOptions) -> Iterable[Observation]:
            for r in cache.get():
                yield from fn(r)

        return [callback]

    meter.create_observable_gauge(hw_metrics.HW_GPU_UTILIZATION, each(lambda r: [Observation(r.utilization, _attrs(r))]), unit="1", description="GPU utilisation")
    meter.create_observable_up_down_counter(hw_metrics.HW_GPU_MEMORY_USAGE, each(lambda r: [Observation(r.memory_used, _attrs(r))]), unit="By", description="GPU memory used")
    meter.create_observable_up_down_counter(hw_metrics.HW_GPU_MEMORY_LIMIT, each(lambda r: [Observation(r.memory_total, _attrs(r))]), unit="By", description="GPU memory size")
    meter.create_observable_gauge(
        hw_metrics.HW_GPU_MEMORY_UTILIZATION,
        each(lambda r: [Observation(r.memory_used / r.memory_total if r.memory_total else 0.0, _attrs(r))]),
        unit="1", description="GPU memory used / total",
    )
    meter.create_observable_gauge(
        hw_metrics.HW_TEMPERATURE, each(lambda r: [Observation(r.temperature_c, _attrs(r))] if r.temperature_c is not None else []), unit="Cel", description="GPU temperature"
    )
    meter.create_observable_gauge(
        hw_metrics.HW_POWER, each(lambda r: [Observation(r.power_w, _attrs(r))] if r.power_w is not None else []), unit="W", description="GPU power draw"
    )
    meter.create_observable_up_down_counter(
        PROCESS_GPU_MEMORY,
        each(lambda r: [Observation(b, {**_attrs(r), "process.pid": pid}) for pid, b in r.processes.items()]),
        unit="By", description="GPU memory used by each process",
    )


def start(meter: Any, reader: GpuReader | None = None) -> bool:
    """GPU metrics on when a reader (NVML by default) is available; one info line when not."""
    if reader is None:
        try:
            reader = NvmlReader()
        except Exception as exc:  # noqa: BLE001 - ImportError, NVMLError_LibraryNotFound, driver errors...
            _logger.info("agent-otel: no NVIDIA GPU metrics (%s: %s)", type(exc).__name__, exc)
            return False
    register(meter, reader)
    return True
