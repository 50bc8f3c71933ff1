"""Resource metrics: process/system through psutil, GPU through the NVML seam with recorded readings."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from agent_otel.resources import gpu, start_resource_metrics


def collect(reader):
    data = reader.get_metrics_data()
    out = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                out.setdefault(m.name, []).extend(m.data.data_points)
    return out


class Recorded:
    """Readings as NVML gave them on a two-GPU box (recorded), replayed."""

    def __init__(self):
        self.calls = 0

    def read(self):
        self.calls += 1
        return [
            gpu.GpuReading(0, "NVIDIA A10G", "GPU-aaaa", 0.83, 18 * 2**30, 24 * 2**30, 61.0, 143.5, {4242: 3 * 2**30}),
            gpu.GpuReading(1, "NVIDIA A10G", "GPU-bbbb", 0.05, 1 * 2**30, 24 * 2**30, 34.0, None, {}),
        ]


def test_gpu_metrics_follow_hw_conventions_per_device():
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    recorded = Recorded()
    assert gpu.start(provider.get_meter("t"), recorded)
    m = collect(reader)
    util = {p.attributes["gpu.index"]: p.value for p in m["hw.gpu.utilization"]}
    assert util == {0: 0.83, 1: 0.05}
    mem = {p.attributes["hw.id"]: p.value for p in m["hw.gpu.memory.usage"]}
    assert mem == {"GPU-aaaa": 18 * 2**30, "GPU-bbbb": 2**30}
    assert {p.attributes["hw.type"] for p in m["hw.gpu.memory.limit"]} == {"gpu"}
    assert [p.value for p in m["hw.gpu.memory.utilization"] if p.attributes["gpu.index"] == 0] == [0.75]
    assert [p.value for p in m["hw.power"]] == [143.5]  # the second board reports no power: no point
    assert {(p.attributes["process.pid"], p.value) for p in m[gpu.PROCESS_GPU_MEMORY]} == {(4242, 3 * 2**30)}
    assert recorded.calls == 1  # one device read served all seven instruments


@pytest.fixture
def no_nvml(monkeypatch):
    """A machine without NVML: opening the reader fails as pynvml does there; host metrics stop after."""
    from agent_otel.resources import host

    class Broken:
        def __init__(self):
            raise OSError("NVML Shared Library Not Found")

    monkeypatch.setattr(gpu, "NvmlReader", Broken)
    yield
    host.stop()


def test_no_gpu_means_one_info_line_and_no_gpu_series(caplog, no_nvml):
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    caplog.set_level(logging.INFO, logger="agent_otel.resources")
    assert start_resource_metrics(provider) is False
    lines = [r for r in caplog.records if r.name == "agent_otel.resources"]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO and "NVML Shared Library Not Found" in lines[0].getMessage()
    names = set(collect(reader))
    assert not any(n.startswith("hw.") for n in names)
    assert {"process.cpu.utilization", "process.memory.usage", "process.thread.count", "system.memory.usage"} <= names
