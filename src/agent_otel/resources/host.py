"""Process and system metrics (psutil), through the contrib SystemMetricsInstrumentor.

opentelemetry-instrumentation-system-metrics already implements the OTel process/system
conventions well; we pick the figures an agent operator needs and leave the rest off.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor

CONFIG: dict[str, Any] = {
    "process.cpu.time": ["user", "system"],
    "process.cpu.utilization": ["user", "system"],
    "process.memory.usage": None,
    "process.memory.virtual": None,
    "process.thread.count": None,
    "process.open_file_descriptor.count": None,
    "system.cpu.utilization": ["idle", "user", "system", "irq"],
    "system.memory.usage": ["used", "free", "cached"],
    "system.memory.utilization": ["used", "free", "cached"],
    "system.disk.io": ["read", "write"],
    "system.network.io": ["transmit", "receive"],
}

_instrumentor: SystemMetricsInstrumentor | None = None


def start(meter_provider: Any = None) -> None:
    global _instrumentor
    if _instrumentor is not None:
        return
    _instrumentor = SystemMetricsInstrumentor(config=CONFIG)
    _instrumentor.instrument(meter_provider=meter_provider)


def stop() -> None:
    global _instrumentor
    if _instrumentor is not None:
        _instrumentor.uninstrument()
        _instrumentor = None
