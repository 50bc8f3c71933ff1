"""The Grafana dashboard built with Grafana's own SDK (grafana-foundation-sdk) from `queries.PANELS`.

`python -m agent_otel.dashboards.build` rewrites deploy/compose/grafana/dashboards/agent-otel.json;
`--check` exits 1 when the committed file differs from what this code generates (a unit test does
the same). The SDK has no Jaeger query type, so `JaegerSearch` below is the one hand-written query
model: Grafana's Jaeger datasource search (`queryType: search`, a service, a limit).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import logs, loki, prometheus, table, timeseries
from grafana_foundation_sdk.cog import variants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, GridPos, VariableOption, VariableRefresh

from agent_otel import semconv
from agent_otel.dashboards.queries import PANELS, SERVICE, SVC, TRACE_SERVICE, PanelSpec, Query, prom

UID = "agent-otel"
OUT = Path(__file__).resolve().parents[3] / "deploy/compose/grafana/dashboards/agent-otel.json"
SEARCH_LIMIT = 20


class JaegerSearch(variants.Dataquery):
    def __init__(self, ref: str, service: str, limit: int) -> None:
        self.ref, self.service, self.limit = ref, service, limit

    def to_json(self) -> dict[str, Any]:
        return {"refId": self.ref, "queryType": "search", "service": self.service, "limit": self.limit,
                "datasource": {"type": "jaeger", "uid": "jaeger"}}


class JaegerSearchBuilder:
    def __init__(self, query: JaegerSearch) -> None:
        self._q = query

    def build(self) -> JaegerSearch:
        return self._q


def _ds(kind: str) -> DataSourceRef:
    return DataSourceRef(type_val=kind, uid=kind)


def _target(spec: PanelSpec, q: Query) -> Any:
    if spec.datasource == "prometheus":
        return prometheus.Dataquery().ref_id(q.ref).expr(q.expr).legend_format(q.legend)
    if spec.datasource == "loki":
        return loki.Dataquery().ref_id(q.ref).expr(q.expr).legend_format(q.legend) if q.legend else loki.Dataquery().ref_id(q.ref).expr(q.expr)
    return JaegerSearchBuilder(JaegerSearch(q.ref, q.expr, SEARCH_LIMIT))


def _panel(spec: PanelSpec, pid: int, x: int, y: int) -> Any:
    builder = {"timeseries": timeseries.Panel, "logs": logs.Panel, "table": table.Panel}[spec.kind]()
    panel = builder.id(pid).title(spec.title).datasource(_ds(spec.datasource)).grid_pos(_grid(x, y, spec))
    if spec.unit:
        panel = panel.unit(spec.unit)
    for q in spec.queries:
        panel = panel.with_target(_target(spec, q))
    return panel


def _grid(x: int, y: int, spec: PanelSpec) -> GridPos:
    return GridPos(h=spec.height, w=spec.width, x=x, y=y)


def build() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model."""
    calls = prom(semconv.METRIC_DURATION, "s", "_count")
    service = (gd.QueryVariable(SERVICE).label("service").datasource(_ds("prometheus"))
               .query(f"label_values({calls}, {SVC})").multi(True).include_all(True).all_value(".+")  # Loki refuses `=~".*"`
               .current(VariableOption(text="All", value="$__all")).refresh(VariableRefresh.ON_TIME_RANGE_CHANGED))
    trace_service = (gd.QueryVariable(TRACE_SERVICE).label("traces of").datasource(_ds("prometheus"))
                     .query(f"label_values({calls}, {SVC})").refresh(VariableRefresh.ON_TIME_RANGE_CHANGED))
    dash = (gd.Dashboard("agent-otel: agents").uid(UID).tags(["agent-otel", "genai"]).refresh("10s").time("now-1h", "now")
            .with_variable(service).with_variable(trace_service))
    x = y = 0
    for pid, spec in enumerate(PANELS, start=1):
        if x + spec.width > 24:
            x, y = 0, y + 8
        dash = dash.with_panel(_panel(spec, pid, x, y))
        x += spec.width
        if x >= 24:
            x, y = 0, y + spec.height
    return json.loads(json.dumps(dash.build(), cls=JSONEncoder))


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} differs from the generated dashboard: run python -m agent_otel.dashboards.build", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
