"""The fleet deploy files fit together: the gateway ConfigMaps carry the shipped configs, the gateway's
args, HPA, PDB and Services point at its pods, sidecars and the trace-ID router point at its Services,
and the backends' values files hold the settings docs/scale.md relies on.
(Kubernetes schemas: test_manifests.py; otelcol validate and promtool: tests/stack.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
GW = ROOT / "deploy/kubernetes/gateway"
SCALE = ROOT / "deploy/scale"
ENV_DEFAULT = re.compile(r"^\$\{env:(?P<name>\w+):-(?P<default>[^}]*)\}$")


def objects(path: Path) -> dict[str, dict]:
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in yaml.safe_load_all(path.read_text()) if d}


def container(deployment: dict, name: str) -> dict:
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def env_of(c: dict) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in c["env"]}


def config_files(args: list[str]) -> list[str]:
    """The --config paths of a collector's args, in either form (`--config=x` or `--config x`)."""
    out, it = [], iter(args)
    for a in it:
        if a.startswith("--config="):
            out.append(a.split("=", 1)[1])
        elif a == "--config":
            out.append(next(it))
    return out


def env_default(value: str) -> str:
    m = ENV_DEFAULT.match(value)
    assert m, f"expected ${{env:NAME:-default}}, got {value!r}"
    return m["default"]


@pytest.fixture(scope="module")
def gateway():
    return objects(GW / "gateway.yaml")


@pytest.fixture(scope="module")
def sidecar():
    return objects(GW / "agent-with-forwarding-sidecar.yaml")


# --- ConfigMaps and args ---------------------------------------------------------------------------

CASES = [
    ("gateway.yaml", "ConfigMap/otel-gateway-config", "Deployment/otel-gateway", "otel-collector",
     {"collector-config.yaml": "collector-config.yaml", "sampling.yaml": "deploy/collector/sampling.yaml"}),
    ("agent-with-forwarding-sidecar.yaml", "ConfigMap/agent-otel-forwarding-collector", "Deployment/support-bot", "otel-collector",
     {"collector-config.yaml": "collector-config.yaml", "forward.yaml": "deploy/gateway/forward.yaml"}),
]


@pytest.mark.parametrize(("manifest", "cm", "deployment", "name", "sources"), CASES, ids=[c[0] for c in CASES])
def test_configmap_carries_the_exact_text_of_the_files_it_copies(manifest, cm, deployment, name, sources):
    data = objects(GW / manifest)[cm]["data"]
    assert list(data) == list(sources)
    for key, src in sources.items():
        assert data[key] == (ROOT / src).read_text(), f"{manifest}: {key} differs from {src} (run deploy/kubernetes/sync_configmaps.py)"


@pytest.mark.parametrize(("manifest", "cm", "deployment", "name", "sources"), CASES, ids=[c[0] for c in CASES])
def test_collector_args_name_exactly_the_mounted_configmap_keys_base_config_first(manifest, cm, deployment, name, sources):
    objs = objects(GW / manifest)
    dep = objs[deployment]
    c = container(dep, name)
    volume = next(v for v in dep["spec"]["template"]["spec"]["volumes"] if v.get("configMap", {}).get("name") == objs[cm]["metadata"]["name"])
    mount = next(m["mountPath"] for m in c["volumeMounts"] if m["name"] == volume["name"])
    files = config_files(c["args"])
    assert files == [f"{mount}/{key}" for key in objs[cm]["data"]]
    assert files[0].endswith("/collector-config.yaml"), "overlays merge after the base config"


@pytest.mark.parametrize(("manifest", "cm", "deployment", "name", "sources"), CASES, ids=[c[0] for c in CASES])
def test_every_agent_otel_variable_set_is_read_by_the_configs_it_runs(manifest, cm, deployment, name, sources):
    text = "".join((ROOT / src).read_text() for src in sources.values())
    c = container(objects(GW / manifest)[deployment], name)
    for var in env_of(c):
        if var.startswith("AGENT_OTEL_"):
            assert "${env:" + var + ":-" in text, f"{manifest}: {var} is set but no config reads it (typo?)"


@pytest.mark.parametrize(("manifest", "cm", "deployment", "name", "sources"), CASES, ids=[c[0] for c in CASES])
def test_queue_dir_is_a_mounted_volume_and_probes_hit_the_health_port(manifest, cm, deployment, name, sources):
    c = container(objects(GW / manifest)[deployment], name)
    env = env_of(c)
    assert env["AGENT_OTEL_QUEUE_DIR"] in {m["mountPath"] for m in c["volumeMounts"]}, "the file_storage queue would land on the root filesystem"
    health_port = int(env["AGENT_OTEL_HEALTH_ENDPOINT"].rsplit(":", 1)[1])
    assert env["AGENT_OTEL_HEALTH_ENDPOINT"].startswith("0.0.0.0:"), "the kubelet probes the pod IP"
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["port"] == health_port


# --- gateway Deployment, HPA, PDB, Services --------------------------------------------------------

def test_gateway_memory_limiter_sits_below_the_container_limit(gateway):
    c = container(gateway["Deployment/otel-gateway"], "otel-collector")
    env = env_of(c)
    limit_mib = int(c["resources"]["limits"]["memory"].removesuffix("Gi")) * 1024
    assert int(env["AGENT_OTEL_MEMORY_LIMIT_MIB"]) < limit_mib
    assert int(env["AGENT_OTEL_MEMORY_SPIKE_MIB"]) < int(env["AGENT_OTEL_MEMORY_LIMIT_MIB"])
    name = next(e for e in c["env"] if e["name"] == "AGENT_OTEL_COLLECTOR_NAME")
    assert name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name", "each gateway needs its own agent_otel.collector"


def test_hpa_and_pdb_target_the_gateway_deployment(gateway):
    dep = gateway["Deployment/otel-gateway"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    hpa = gateway["HorizontalPodAutoscaler/otel-gateway"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": dep["metadata"]["name"]}
    assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]}
    assert targets == {"cpu": 70, "memory": 75}
    c = container(dep, "otel-collector")
    assert {"cpu", "memory"} <= set(c["resources"]["requests"]), "utilization targets need requests"
    pdb = gateway["PodDisruptionBudget/otel-gateway"]["spec"]
    assert pdb["selector"]["matchLabels"] == labels == dep["spec"]["selector"]["matchLabels"]
    assert 1 <= pdb["minAvailable"] < hpa["minReplicas"], "a PDB as large as the minimum blocks every node drain"


def test_both_services_select_the_gateway_pods_and_the_headless_one_has_no_cluster_ip(gateway):
    dep = gateway["Deployment/otel-gateway"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    port_names = {p["name"] for p in container(dep, "otel-collector")["ports"]}
    for name in ("Service/otel-gateway", "Service/otel-gateway-headless"):
        spec = gateway[name]["spec"]
        assert spec["selector"] and spec["selector"].items() <= labels.items()
        assert {p["targetPort"] for p in spec["ports"]} <= port_names
    assert gateway["Service/otel-gateway-headless"]["spec"]["clusterIP"] == "None"
    assert "clusterIP" not in gateway["Service/otel-gateway"]["spec"]
    assert {(p["name"], p["port"]) for p in gateway["Service/otel-gateway"]["spec"]["ports"]} == {("otlp-grpc", 4317), ("otlp-http", 4318)}


def test_gateway_pods_run_non_root_on_a_read_only_root(gateway):
    spec = gateway["Deployment/otel-gateway"]["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container(gateway["Deployment/otel-gateway"], "otel-collector")["securityContext"]["readOnlyRootFilesystem"] is True


# --- who points at the gateway --------------------------------------------------------------------

def service_dns(svc: dict) -> str:
    return f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc.cluster.local"


def test_sidecar_forwards_to_the_gateway_service(gateway, sidecar):
    svc = gateway["Service/otel-gateway"]
    endpoint = env_of(container(sidecar["Deployment/support-bot"], "otel-collector"))["AGENT_OTEL_GATEWAY_ENDPOINT"]
    host, port = endpoint.rsplit(":", 1)
    assert host == service_dns(svc)
    assert int(port) in {p["port"] for p in svc["spec"]["ports"]}
    forward = yaml.safe_load((ROOT / "deploy/gateway/forward.yaml").read_text())
    assert env_default(forward["exporters"]["otlp/gateway"]["endpoint"]) == endpoint, "forward.yaml's default and the manifest disagree"


def test_loadbalancing_routes_traces_by_trace_id_over_the_headless_service(gateway):
    cfg = yaml.safe_load((ROOT / "deploy/gateway/loadbalancing.yaml").read_text())
    lb = cfg["exporters"]["loadbalancing"]
    assert lb["routing_key"] == "traceID"
    assert list(lb["resolver"]) == ["k8s"], "the exporter takes exactly one resolver"
    headless = gateway["Service/otel-gateway-headless"]
    assert env_default(lb["resolver"]["k8s"]["service"]) == f"{headless['metadata']['name']}.{headless['metadata']['namespace']}"
    assert set(lb["resolver"]["k8s"]["ports"]) <= {p["port"] for p in headless["spec"]["ports"]}
    assert lb["protocol"]["otlp"]["tls"]["insecure"] is True
    assert "storage" not in lb["protocol"]["otlp"]["sending_queue"], "the router's queue stays in memory"
    assert "endpoint" not in lb["protocol"]["otlp"], "the resolver sets the endpoints"
    assert cfg["service"]["pipelines"] == {"traces": {"receivers": ["otlp"], "processors": ["memory_limiter"], "exporters": ["loadbalancing"]}}


# --- backends at scale ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(SCALE.glob("*.yaml")), ids=lambda p: p.name)
def test_scale_files_parse_and_name_how_to_use_them(path):
    assert isinstance(yaml.safe_load(path.read_text()), dict)
    head = path.read_text().split("\n\n", 1)[0]
    if path.name.endswith("-values.yaml"):
        assert "helm install" in head and "https://" in head, f"{path.name}: header must name the chart repo and the install command"
    else:
        assert "promtool check config" in head


def test_loki_runs_simple_scalable_on_object_storage_with_otlp_metadata():
    loki = yaml.safe_load((SCALE / "loki-values.yaml").read_text())
    assert loki["deploymentMode"] == "SimpleScalable"
    assert {t: loki[t]["replicas"] for t in ("read", "write", "backend")} == {"read": 3, "write": 3, "backend": 3}
    assert loki["singleBinary"]["replicas"] == 0
    assert loki["loki"]["storage"]["type"] == "s3" and set(loki["loki"]["storage"]["bucketNames"]) >= {"chunks", "ruler"}
    assert loki["loki"]["storage"]["s3"]["endpoint"]
    schema = loki["loki"]["schemaConfig"]["configs"][-1]
    assert (schema["schema"], schema["store"], schema["object_store"]) == ("v13", "tsdb", "s3")
    assert loki["loki"]["limits_config"]["allow_structured_metadata"] is True


def test_jaeger_collectors_and_query_share_elasticsearch_storage(gateway):
    jaeger = yaml.safe_load((SCALE / "jaeger-values.yaml").read_text())
    assert jaeger["storage"]["type"] == "elasticsearch"
    url = jaeger["storage"]["elasticsearch"]["url"]
    assert {"name": "ES_SERVER_URLS", "value": url} in jaeger["jaeger"]["extraEnv"]
    backend = jaeger["userconfig"]["extensions"]["jaeger_storage"]["backends"]["es"]["elasticsearch"]
    assert backend["server_urls"] == ["${env:ES_SERVER_URLS}"]
    assert jaeger["jaeger"]["replicas"] >= 2
    assert "jaeger_query" not in jaeger["userconfig"]["service"]["extensions"], "the chart's pods are the collector role"
    # the gateways write to the Service the chart creates (fullnameOverride)
    endpoint = env_of(container(gateway["Deployment/otel-gateway"], "otel-collector"))["AGENT_OTEL_JAEGER_OTLP_ENDPOINT"]
    assert endpoint == f"{jaeger['fullnameOverride']}.observability.svc.cluster.local:4317"
    extra = {f"{o['kind']}/{o['metadata']['name']}": o for o in jaeger["extraObjects"]}
    query = extra["Deployment/jaeger-query"]
    assert query["spec"]["replicas"] == 2
    q_env = {e["name"]: e.get("value") for e in query["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert q_env["ES_SERVER_URLS"] == "{{ .Values.storage.elasticsearch.url }}"
    q_cfg = yaml.safe_load(extra["ConfigMap/jaeger-query-config"]["data"]["config.yaml"])
    assert "jaeger_query" in q_cfg["service"]["extensions"]
    assert q_cfg["extensions"]["jaeger_storage"]["backends"]["es"]["elasticsearch"]["server_urls"] == ["${env:ES_SERVER_URLS}"]
    assert extra["Service/jaeger-query"]["spec"]["selector"] == query["spec"]["selector"]["matchLabels"]


def test_mimir_takes_the_gateways_otlp_with_prometheus_names(gateway):
    mimir = yaml.safe_load((SCALE / "mimir-values.yaml").read_text())
    assert mimir["ingester"]["replicas"] >= 3 and mimir["ingester"]["zoneAwareReplication"]["enabled"] is False
    cfg = mimir["mimir"]["structuredConfig"]
    assert cfg["multitenancy_enabled"] is False, "collector-config.yaml sends no X-Scope-OrgID"
    assert cfg["limits"]["otel_metric_suffixes_enabled"] is True, "dashboards query traces_span_metrics_calls_total"
    endpoint = env_of(container(gateway["Deployment/otel-gateway"], "otel-collector"))["AGENT_OTEL_PROMETHEUS_OTLP_ENDPOINT"]
    assert endpoint.startswith("http://mimir-distributor.") and endpoint.endswith("/otlp/v1/metrics")
    assert endpoint in (SCALE / "mimir-values.yaml").read_text()


def test_prometheus_remote_writes_to_mimir_push():
    prom = yaml.safe_load((SCALE / "prometheus-remote-write.yaml").read_text())
    assert prom["global"]["scrape_interval"] and prom["scrape_configs"]
    (rw,) = prom["remote_write"]
    assert rw["url"].startswith("http://mimir-distributor.") and rw["url"].endswith("/api/v1/push")
    assert {"capacity", "max_shards", "max_samples_per_send"} <= set(rw["queue_config"])


def test_scale_doc_names_only_files_that_exist():
    doc = (ROOT / "docs/scale.md").read_text()
    paths = set(re.findall(r"\b((?:deploy|tests)/[\w./-]+\.(?:yaml|py))", doc))
    assert {"deploy/gateway/loadbalancing.yaml", "deploy/gateway/forward.yaml", "deploy/collector/sampling.yaml"} <= paths
    assert [p for p in sorted(paths) if not (ROOT / p).exists()] == []
