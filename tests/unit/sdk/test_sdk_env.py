"""The SDK's configuration variables through configure(), each in a fresh process (global providers are set once)."""

from __future__ import annotations

import json

from test_configure import otlp_http_sink, run

PROBE = """
import json, agent_otel
from opentelemetry import trace, metrics
agent_otel.configure("svc")
tp = trace.get_tracer_provider()
st = agent_otel.config._state
inner = lambda e: getattr(e, "exporter", e)  # through agent-otel's redacting wrapper to the SDK exporter
out = {"tp": type(tp).__name__, "exporter": agent_otel.config.configured_exporter()}
if st is not None:
    out["sampler"] = tp.sampler.get_description()
    procs = [p for p in tp._active_span_processor._span_processors if hasattr(p, "span_exporter")]  # the batch processors
    out["span_exporters"] = [type(inner(p.span_exporter)).__module__ + "." + type(inner(p.span_exporter)).__name__ for p in procs]
    out["bsp"] = [[p._batch_processor._max_queue_size, p._batch_processor._schedule_delay] for p in procs]
    readers = st.meter_provider._metric_readers
    out["interval"] = [r._export_interval_millis for r in readers]
    out["metric_exporters"] = [type(inner(r._exporter)).__module__ for r in readers]
    out["endpoint"] = [getattr(inner(p.span_exporter), "_endpoint", None) for p in procs]
    out["headers"] = [dict(getattr(inner(p.span_exporter), "_headers", None) or {}) for p in procs]
print("PROBE " + json.dumps(out), flush=True)  # before the call: a console exporter may print its span at once
with agent_otel.tool("t"):
    pass
"""


def probe(env: dict[str, str]) -> tuple[dict, str]:
    proc = run(PROBE, env={"AGENT_OTEL_STORE": "/tmp/i15-env-store.db", **env})
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("PROBE "))
    return json.loads(line[6:]), proc.stderr


def test_sdk_disabled_installs_nothing_and_decorators_still_run():
    out, _ = probe({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"})
    assert out == {"tp": "ProxyTracerProvider", "exporter": None}


def test_sampler_comes_from_the_sdks_variables_and_a_bad_arg_is_a_warning():
    out, _ = probe({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"})
    assert out["sampler"] == "ParentBased{root:TraceIdRatioBased{0.25},remoteParentSampled:AlwaysOnSampler,remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,localParentNotSampled:AlwaysOffSampler}"
    out, err = probe({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "abc"})
    assert out["sampler"] == "TraceIdRatioBased{1.0}" and "TRACES_SAMPLER_ARG" in err
    out, _ = probe({"OTEL_TRACES_SAMPLER": "always_off"})
    assert out["sampler"] == "AlwaysOffSampler"


def test_per_signal_exporters_protocols_and_endpoints():
    out, _ = probe({
        "OTEL_TRACES_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "console", "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/custom/traces",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-team=a",
    })
    assert out["span_exporters"] == ["opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter"]
    assert out["endpoint"] == ["http://127.0.0.1:1/custom/traces"]
    assert out["metric_exporters"] == ["opentelemetry.sdk.metrics._internal.export"]
    assert out["exporter"] == "traces=otlp,metrics=console,logs=none"
    out, _ = probe({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert out["span_exporters"] == ["opentelemetry.exporter.otlp.proto.grpc.trace_exporter.OTLPSpanExporter"]


def test_batch_and_interval_variables_and_unparseable_values_warned_once():
    out, _ = probe({"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_SCHEDULE_DELAY": "250",
                    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "50", "OTEL_METRIC_EXPORT_INTERVAL": "1500"})
    assert out["bsp"] == [[100, 0.25]] and out["interval"] == [1500]
    out, err = probe({"OTEL_TRACES_EXPORTER": "kafka", "AGENT_OTEL_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "-5",
                      "OTEL_EXPORTER_OTLP_PROTOCOL": "udp", "OTEL_SDK_DISABLED": "maybe"})
    assert out["exporter"] == "console" and out["bsp"] == [[8192, 0.1]]  # unusable: agent-otel's default delay (freshness.py)
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_SDK_DISABLED"):
        assert err.count(f"{name}=") == 1, (name, err)


def test_code_arguments_still_raise_config_error():
    for code, message in (
        ('agent_otel.configure(sample_ratio="abc")', "sample_ratio: expected a number between 0 and 1"),
        ('agent_otel.configure(metric_interval=-1)', "metric_interval: expected a positive number"),
        ('agent_otel.configure(max_queue_size=0)', "max_queue_size: expected a positive integer"),
    ):
        proc = run(f"import agent_otel\n{code}", env={"OTEL_TRACES_SAMPLER_ARG": "abc"})
        assert proc.returncode == 1 and message in proc.stderr, (code, proc.stderr)


def test_env_headers_and_token_are_both_sent():
    with otlp_http_sink() as sink:
        proc = run(
            f"""
            import agent_otel
            agent_otel.configure("svc", endpoint="{sink.url}", protocol="http/protobuf", token="t0k")
            with agent_otel.tool("t"):
                pass
            agent_otel.shutdown()
            """,
            env={"OTEL_EXPORTER_OTLP_HEADERS": "x-team=blue"},
        )
    seen = [{"auth": h.get("authorization"), "team": h.get("x-team")} for h in sink.headers]
    assert proc.returncode == 0, proc.stderr
    assert {"auth": "Bearer t0k", "team": "blue"} in seen
