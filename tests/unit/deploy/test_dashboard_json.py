"""The shipped Grafana dashboard is what the code generates with Grafana's SDK from the
conventions module: a hand edit of the JSON, or a renamed metric in semconv, fails here."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("grafana_foundation_sdk", reason="grafana-foundation-sdk not installed (pip install -e '.[dashboards]')")

from agent_otel import semconv  # noqa: E402
from agent_otel.dashboards import build  # noqa: E402
from agent_otel.dashboards.queries import PANELS, prom  # noqa: E402


def test_committed_dashboard_equals_the_generated_one():
    assert build.OUT.read_text() == build.render(), "run: python -m agent_otel.dashboards.build"
    assert build.main(["--check"]) == 0


def test_every_panel_and_query_is_in_the_dashboard():
    dash = json.loads(build.OUT.read_text())
    assert [p["title"] for p in dash["panels"]] == [s.title for s in PANELS]
    for panel, spec in zip(dash["panels"], PANELS):
        assert panel["datasource"]["type"] == spec.datasource
        assert len(panel["targets"]) == len(spec.queries)
    exprs = " ".join(t.get("expr", "") for p in dash["panels"] for t in p["targets"])
    for name in (prom(semconv.METRIC_DURATION, "s", "_count"), prom(semconv.METRIC_TOKEN_USAGE, "", "_sum"),
                 prom(semconv.METRIC_PROCESS_CPU_UTILIZATION, "1"), prom(semconv.METRIC_HW_GPU_UTILIZATION, "1")):
        assert name in exprs
    service = next(v for v in dash["templating"]["list"] if v["name"] == "service")
    assert service["allValue"] == ".+"  # `=~".*"` alone is refused by Loki: the logs panels would fail on "All"


def test_prometheus_names_follow_the_collector_translation():
    assert prom("agent_otel.duration", "s", "_bucket") == "agent_otel_duration_seconds_bucket"
    assert prom("process.memory.usage", "By") == "process_memory_usage_bytes"
    assert prom("hw.gpu.utilization", "1") == "hw_gpu_utilization_ratio"
