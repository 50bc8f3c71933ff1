"""Every panel of the shipped Grafana dashboard as data: title, datasource, queries, and the labels
each query's answer must carry. Names come from `semconv` (the same module the SDK emits with),
turned into Prometheus names the way the collector's Prometheus exporter does (dots to
underscores, unit suffix). `build.py` turns these into a dashboard with Grafana's SDK; the stack
test (tests/stack/test_dashboard_queries.py) runs every query against the real backends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent_otel import semconv

UNIT_SUFFIX = {"s": "_seconds", "By": "_bytes", "1": "_ratio", "": ""}
SERVICE = "service"  # dashboard variable: service.name (multi, All = any)
TRACE_SERVICE = "trace_service"  # dashboard variable: one service, for the Jaeger search


def prom(name: str, unit: str = "", part: str = "") -> str:
    """An OTel metric name as Prometheus stores it: `agent_otel.duration` (s) + `_count` ->
    `agent_otel_duration_seconds_count`."""
    return name.replace(".", "_") + UNIT_SUFFIX[unit] + part


def label(attribute: str) -> str:
    """An OTel attribute as a Prometheus/Loki label: `agent_otel.kind` -> `agent_otel_kind`."""
    return attribute.replace(".", "_")


SVC = label("service.name")
KIND, NAME = label(semconv.AGENT_OTEL_KIND), label(semconv.AGENT_OTEL_NAME)
ERROR = label(semconv.ERROR_TYPE)
MODEL, TOKEN_TYPE = label(semconv.GEN_AI_REQUEST_MODEL), label(semconv.GEN_AI_TOKEN_TYPE)
SEL = f'{SVC}=~"${SERVICE}"'
RATE = "$__rate_interval"
DURATION = prom(semconv.METRIC_DURATION, "s")


@dataclass
class Query:
    ref: str
    expr: str  # PromQL, LogQL, or the Jaeger service to search
    legend: str = ""
    labels: tuple[str, ...] = ()  # every series of the answer carries these


@dataclass
class PanelSpec:
    title: str
    datasource: str  # prometheus | loki | jaeger
    kind: str  # timeseries | logs | table
    unit: str = ""
    queries: list[Query] = field(default_factory=list)
    needs: str | None = None  # "process" or "gpu": data only when resource metrics are on / a GPU is there
    width: int = 12
    height: int = 8


def _by(*labels: str) -> str:
    return ", ".join(labels)


PANELS: list[PanelSpec] = [
    PanelSpec("Calls per second by kind", "prometheus", "timeseries", "reqps", [
        Query("A", f"sum by ({KIND}) (rate({DURATION}_count{{{SEL}}}[{RATE}]))", f"{{{{{KIND}}}}}", (KIND,))]),
    PanelSpec("Error ratio by kind and name", "prometheus", "timeseries", "percentunit", [
        Query("A", f'sum by ({_by(KIND, NAME)}) (rate({DURATION}_count{{{SEL}, {ERROR}!=""}}[{RATE}])) / '
                   f"sum by ({_by(KIND, NAME)}) (rate({DURATION}_count{{{SEL}}}[{RATE}]))", f"{{{{{KIND}}}}} {{{{{NAME}}}}}", (KIND, NAME))]),
    PanelSpec("p95 latency by kind and name", "prometheus", "timeseries", "s", [
        Query("A", f"histogram_quantile(0.95, sum by ({_by('le', KIND, NAME)}) (rate({DURATION}_bucket{{{SEL}}}[{RATE}])))",
              f"{{{{{KIND}}}}} {{{{{NAME}}}}}", (KIND, NAME))]),
    PanelSpec(f"Model call p95 ({semconv.METRIC_OPERATION_DURATION})", "prometheus", "timeseries", "s", [
        Query("A", f"histogram_quantile(0.95, sum by ({_by('le', MODEL)}) (rate({prom(semconv.METRIC_OPERATION_DURATION, 's', '_bucket')}{{{SEL}}}[{RATE}])))",
              f"{{{{{MODEL}}}}}", (MODEL,))]),
    PanelSpec("Tokens per second by model and type", "prometheus", "timeseries", "short", [
        Query("A", f"sum by ({_by(MODEL, TOKEN_TYPE)}) (rate({prom(semconv.METRIC_TOKEN_USAGE, '', '_sum')}{{{SEL}}}[{RATE}]))",
              f"{{{{{MODEL}}}}} {{{{{TOKEN_TYPE}}}}}", (MODEL, TOKEN_TYPE))]),
    PanelSpec("Span RED from the collector (spanmetrics)", "prometheus", "timeseries", "reqps", [
        Query("A", f"sum by (span_name) (rate({prom(semconv.METRIC_SPANMETRICS_CALLS, '', '_total')}{{{SEL}}}[{RATE}]))", "{{span_name}}", ("span_name",))]),
    PanelSpec("Process CPU and memory", "prometheus", "timeseries", "short", [
        Query("A", f"avg by ({SVC}) ({prom(semconv.METRIC_PROCESS_CPU_UTILIZATION, '1')}{{{SEL}}})", f"cpu {{{{{SVC}}}}}", (SVC,)),
        Query("B", f"avg by ({SVC}) ({prom(semconv.METRIC_PROCESS_MEMORY_USAGE, 'By')}{{{SEL}}})", f"rss {{{{{SVC}}}}}", (SVC,))], needs="process"),
    PanelSpec("GPU utilisation and memory (hw.gpu.*)", "prometheus", "timeseries", "short", [
        Query("A", f"avg by (hw_id) ({prom(semconv.METRIC_HW_GPU_UTILIZATION, '1')}{{{SEL}}})", "util {{hw_id}}", ("hw_id",)),
        Query("B", f"avg by (hw_id) ({prom(semconv.METRIC_HW_GPU_MEMORY_USAGE, 'By')}{{{SEL}}})", "mem {{hw_id}}", ("hw_id",))], needs="gpu"),
    PanelSpec("Error log lines per service", "loki", "timeseries", "short", [
        Query("A", f'sum by ({SVC}) (count_over_time({{{SEL}}} | severity_text=~"(?i)error|fatal|critical" [$__auto]))', f"{{{{{SVC}}}}}", (SVC,))]),
    PanelSpec("Recent traces (click one to open it)", "jaeger", "table", "", [Query("A", f"${TRACE_SERVICE}")]),
    PanelSpec("Agent logs (click trace_id to open the trace)", "loki", "logs", "", [Query("A", f"{{{SEL}}}", "", (SVC,))], width=24, height=10),
]
