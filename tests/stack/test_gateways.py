"""The scale-out pattern on 127.0.0.1: agents -> 2 agent-tier collectors -> 2 gateway collectors
(spanmetrics on every span, then tail sampling) -> Jaeger / Prometheus. Checked with counts."""

from __future__ import annotations

import pytest

from agent_otel.stack import binaries, processes
from loadgen.backends import collector_counters, jaeger_trace_ids, poll, prom_value, sdk_drops
from loadgen.emit import spawn, summary

pytestmark = pytest.mark.stack
SHARE = 25.0  # percent of the ordinary traces the gateways keep
SLOW_MS = 50
PROCS, TRACES_PER_S, SECONDS, SPANS_PER_TRACE = 4, 100, 12, 3


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    for program in (binaries.COLLECTOR, binaries.JAEGER, binaries.LOKI, binaries.PROMETHEUS):
        binaries.install(program, lambda _line: None)
    d = tmp_path_factory.mktemp("fleet")
    sampling = {"AGENT_OTEL_SAMPLING_PERCENT": str(SHARE), "AGENT_OTEL_SAMPLING_SLOW_MS": str(SLOW_MS), "AGENT_OTEL_SAMPLING_DECISION_WAIT": "3s"}
    stack = processes.up(d, processes.Ports.free(), timeout_s=120, gateways=2, sampling=sampling)
    try:
        yield stack
    finally:
        processes.down(d)


def test_two_gateways_keep_every_failed_and_slow_trace_a_share_of_the_rest_and_exact_red_metrics(fleet):
    urls = fleet.urls
    sidecars = [urls["otlp_grpc"], urls["collector-1_otlp_grpc"]]
    children = [
        spawn(sidecars[i % 2], f"fleet-{i}", SECONDS, TRACES_PER_S, "--no-logs", "--spans-per-trace", str(SPANS_PER_TRACE),
              "--error-every", "20", "--slow-every", "25", "--slow-ms", str(SLOW_MS + 15))
        for i in range(PROCS)
    ]
    reports = [summary(child) for child in children]
    sent = sum(r["spans"] for r in reports)

    # RED metrics come from every span, before sampling: exact
    calls = poll(lambda: prom_value(urls["prometheus"], 'sum(traces_span_metrics_calls_total{service_name=~"fleet-.*"})'), until=lambda v: v >= sent, timeout=90)
    assert calls == sent
    by_gateway = {g: prom_value(urls["prometheus"], f'sum(traces_span_metrics_calls_total{{service_name=~"fleet-.*", agent_otel_collector="{g}"}})') for g in ("gateway-0", "gateway-1")}
    assert all(v > 0 for v in by_gateway.values()) and sum(by_gateway.values()) == sent, by_gateway

    kept: dict[str, int] = {}
    for i, r in enumerate(reports):
        must = set(r["failed"]) | set(r["slow"])
        got = poll(lambda i=i: jaeger_trace_ids(urls["jaeger_query"], f"fleet-{i}"), until=lambda t, must=must: must <= {k.zfill(32) for k in t}, timeout=60)
        kept.update({k.zfill(32): n for k, n in got.items()})
    failed = {t for r in reports for t in r["failed"]}
    slow = {t for r in reports for t in r["slow"]}
    assert failed <= set(kept), f"{len(failed - set(kept))} of {len(failed)} failed traces missing"
    assert slow <= set(kept), f"{len(slow - set(kept))} of {len(slow)} slow traces missing"
    assert set(kept.values()) == {SPANS_PER_TRACE}, "every kept trace arrives whole"
    ordinary_total = sum(r["traces"] for r in reports) - len(failed) - len(slow)
    ordinary_kept = len(set(kept) - failed - slow)
    share = 100 * ordinary_kept / ordinary_total
    print(f"\nfleet: {sent} spans, spanmetrics {calls:.0f} (gateway-0 {by_gateway['gateway-0']:.0f}, gateway-1 {by_gateway['gateway-1']:.0f}); "
          f"kept {len(failed)} failed, {len(slow)} slow, {ordinary_kept}/{ordinary_total} ordinary = {share:.1f}% (target {SHARE}%)")
    assert abs(share - SHARE) < 5

    # nothing lost anywhere: no SDK drops, no collector refused or failed to send
    assert sdk_drops(urls["prometheus"], 'service_name=~"fleet-.*"') == 0
    for name in ("collector", "collector-1", "gateway-0", "gateway-1"):
        failures = ("otelcol_receiver_refused_spans", "otelcol_exporter_send_failed_spans", "otelcol_exporter_enqueue_failed_spans")
        bad = {k: v for k, v in collector_counters(urls[f"{name}_telemetry"]).items() if k.startswith(failures) and v}
        assert not bad, (name, bad)
