"""The deploy files a user copies are valid: Kubernetes schemas (offline), compose, Grafana, configs in sync."""

from __future__ import annotations

import json
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
K8S_VERSION = "1.31.0"
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").rglob("*.yaml"))
CRD_KINDS = {"OpenTelemetryCollector"}


def docs(path: Path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_kubernetes_manifests_validate_against_schemas(path):
    for doc in docs(path):
        if doc["kind"] in CRD_KINDS:
            assert doc["apiVersion"] == "opentelemetry.io/v1beta1"
            assert doc["spec"]["mode"] in ("sidecar", "deployment", "daemonset", "statefulset")
            assert set(doc["spec"]["config"]["service"]["pipelines"]) == {"traces", "metrics", "logs"}
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_sidecar_configmap_carries_the_top_level_collector_config():
    cm = docs(ROOT / "deploy/kubernetes/sidecar/agent-with-collector.yaml")[0]
    assert cm["data"]["collector-config.yaml"] == (ROOT / "collector-config.yaml").read_text()


def test_operator_annotation_names_the_collector():
    collector, deployment = docs(ROOT / "deploy/kubernetes/operator/collector-sidecar.yaml")
    annotation = deployment["spec"]["template"]["metadata"]["annotations"]["sidecar.opentelemetry.io/inject"]
    assert annotation == collector["metadata"]["name"]


COLLECTOR_CONFIGS = ["collector-config.yaml", "deploy/collector/auth.yaml", "deploy/collector/tls.yaml", "deploy/collector/sampling.yaml", "deploy/gateway/forward.yaml", "deploy/collector/redact-emails.yaml"]
MODULE_OF = {
    "otlp": "otlpreceiver", "memory_limiter": "memorylimiterprocessor", "resource": "resourceprocessor",
    "tail_sampling": "tailsamplingprocessor", "redaction": "redactionprocessor", "transform": "transformprocessor", "spanmetrics": "spanmetricsconnector", "health_check": "healthcheckextension",
    "file_storage": "filestorage", "bearertokenauth": "bearertokenauthextension", "otlphttp": "otlphttpexporter", "otlp_exporter": "otlpexporter",
}


@pytest.mark.parametrize("config", COLLECTOR_CONFIGS)
def test_collector_configs_wire_only_components_the_distribution_builds(config):
    manifest = yaml.safe_load((ROOT / "deploy/collector/manifest.yaml").read_text())
    built = {m["gomod"].split()[0].rsplit("/", 1)[-1] for kind in ("receivers", "processors", "exporters", "connectors", "extensions") for m in manifest[kind]}
    cfg = yaml.safe_load((ROOT / config).read_text())
    for section in ("receivers", "processors", "connectors", "extensions"):
        for name in cfg.get(section) or {}:
            assert MODULE_OF[name.split("/")[0]] in built, f"{config}: {section}.{name} is not in the ocb manifest"
    for name in cfg.get("exporters") or {}:
        kind = name.split("/")[0]
        assert MODULE_OF["otlp_exporter" if kind == "otlp" else kind] in built, f"{config}: exporters.{name}"
    versions = {m["gomod"].split()[1] for kind in ("receivers", "processors", "exporters", "connectors", "extensions") for m in manifest[kind]}
    assert len(versions) == 1, f"one collector release for every component, got {versions}"


def test_compose_stack_mounts_files_that_exist():
    compose = yaml.safe_load((ROOT / "deploy/compose/compose.yaml").read_text())
    assert {"collector", "jaeger", "prometheus", "loki", "grafana"} <= set(compose["services"])
    for svc in compose["services"].values():
        for volume in svc.get("volumes", []):
            src = volume.split(":")[0]
            assert (ROOT / "deploy/compose" / src).exists(), src


def test_grafana_dashboard_queries_metrics_agent_otel_emits():
    dash = json.loads((ROOT / "deploy/compose/grafana/dashboards/agent-otel.json").read_text())
    known = {
        "agent_otel_duration_seconds_count", "agent_otel_duration_seconds_bucket", "gen_ai_client_operation_duration_seconds_bucket",
        "gen_ai_client_token_usage_sum", "traces_span_metrics_calls_total", "process_cpu_utilization_ratio",
        "process_memory_usage_bytes", "hw_gpu_utilization_ratio", "hw_gpu_memory_usage_bytes",
    }
    for panel in dash["panels"]:
        for target in panel["targets"]:
            if panel["datasource"]["type"] != "prometheus":
                continue
            names = set(re.findall(r"\b([a-z_]+(?:_total|_bucket|_count|_sum|_ratio|_bytes))(?=[{)\[])", target["expr"]))
            assert names and names <= known, (panel["title"], names - known)


def _local_stack_template(name: str) -> dict:
    text = (ROOT / "src/agent_otel/stack/data" / name).read_text()
    return yaml.safe_load(re.sub(r"\$\{(\w+)\}", "null", text))


def test_compose_alerting_has_the_local_stacks_response_time_defaults():
    """A compose user gets the same first-bad-call -> notification budget as `agent-otel stack up` (docs/latency.md)."""
    from agent_otel.stack import processes

    compose = yaml.safe_load((ROOT / "deploy/compose/compose.yaml").read_text())
    prom = yaml.safe_load((ROOT / "deploy/compose/config/prometheus.yml").read_text())
    am = yaml.safe_load((ROOT / "deploy/compose/config/alertmanager.yml").read_text())
    assert prom["global"]["evaluation_interval"] == processes.EVALUATION_INTERVAL
    local_route = _local_stack_template("alertmanager.yml")["route"]
    assert {k: am["route"][k] for k in ("group_wait", "group_interval")} == {k: local_route[k] for k in ("group_wait", "group_interval")}
    target = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0]
    assert target.split(":")[0] in compose["services"], target
    assert "./config/rules:/etc/prometheus/rules:ro" in compose["services"]["prometheus"]["volumes"]
    assert prom["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_compose_rules_are_the_export_of_the_example_rules():
    from agent_otel.alerts.cycle import load_config
    from agent_otel.alerts.export import to_prometheus

    shipped = (ROOT / "deploy/compose/config/rules/agent-otel.rules.yml").read_text()
    assert shipped == to_prometheus(load_config(ROOT / "examples/alerts.yaml").rules), (
        "regenerate: agent-otel alerts export --rules examples/alerts.yaml -o deploy/compose/config/rules/agent-otel.rules.yml")


@pytest.mark.skipif(not __import__("shutil").which("amtool"), reason="amtool comes with Debian's prometheus-alertmanager (installed by .ci/run)")
def test_compose_alertmanager_config_is_valid():
    import subprocess

    out = subprocess.run(["amtool", "check-config", str(ROOT / "deploy/compose/config/alertmanager.yml")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
