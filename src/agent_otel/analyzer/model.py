"""The report as typed dataclasses: what both builders (raw spans, push-down) produce and what the
renderers and the alert evaluator read.

One definition gives three things that used to be kept by hand: the JSON a report is written as
(`to_dict`), the JSON schema of that document (`json_schema`, versioned with `SCHEMA_VERSION`;
docs/report-schema.md is generated from it), and the list of figures an alert rule may name
(`figure_paths`, `Report.figure`), so an unknown figure is refused when the rules are loaded.

A field that is sometimes left out of the JSON (a baseline verdict without a baseline, a push-down
report's fields the histogram cannot give) defaults to `ABSENT`, which `to_dict` omits; `None` is
written as null. Optional sections later issues add (conversations, evaluations) default to empty
and are left out while empty, so the document a report without them writes does not change.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Union

SCHEMA = "agent-otel/report"
SCHEMA_VERSION = 3  # 2: data span, token scope/unpriced tokens, histograms, richer timeseries, embedded traces; 3: totals.price_source, conversations, evaluations, figures_from


class _Absent:
    """Left out of the JSON (unlike None, which is written as null)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()
OMIT_EMPTY = {"omit_empty": True}  # field metadata: a list/dict left out of the JSON while empty


def _optional_section(factory: type = list) -> Any:
    return field(default_factory=factory, metadata=OMIT_EMPTY)


@dataclass
class Latency:
    """Latency percentiles in milliseconds; mean and max where the source knows them."""

    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    mean: float | None = ABSENT
    max: float | None = ABSENT  # push-down: null (a histogram knows its top bucket, not the maximum)


@dataclass
class Histogram:
    """Counts on log-spaced bins shared by the window and the baseline (so they overlay)."""

    edges_ms: list[float]
    counts: list[int]
    baseline_counts: list[int] | None


@dataclass
class LatencyVerdict:
    """A group's p95 against the baseline's (Mann-Whitney U on the samples)."""

    status: str  # degraded | improved | stable | insufficient_data
    p95_change_pct: float | None
    p_value: float | None
    p95_ms: float = ABSENT
    baseline_p95_ms: float = ABSENT
    error_rate_change_points: float = ABSENT


@dataclass
class LevelVerdict:
    """A resource level (CPU, memory) against the baseline's."""

    status: str
    change_pct: float | None
    value: float = ABSENT
    baseline: float = ABSENT


@dataclass
class Group:
    """One (kind, name): an agent, tool, model... with its calls, latency, errors, tokens and cost."""

    kind: str
    name: str
    count: int
    throughput_per_s: float
    errors: int
    error_rate: float
    latency_ms: Latency
    total_ms: float
    tokens_scope: str | None  # own | rolled_up | None (not applicable)
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    unpriced_tokens: int | None
    histogram: Histogram | None
    latency_samples_ms: list[float] = field(default_factory=list)  # written only in a saved baseline (--save-baseline)
    baseline: LatencyVerdict = ABSENT
    evaluation: dict[str, Any] = _optional_section(dict)  # evaluation name -> score stats (analyzer/evaluations.py)


@dataclass
class Service:
    service: str
    spans: int
    traces: int
    traces_per_s: float
    errors: int
    error_rate: float
    trace_latency_ms: Latency
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    unpriced_tokens: int | None
    error_log_lines: int = ABSENT  # push-down: error/fatal log lines Loki counted


@dataclass
class Totals:
    spans: int
    traces: int
    errors: int
    error_rate: float
    input_tokens: int
    output_tokens: int
    cost_usd: float
    unpriced_models: list[str]
    unpriced_tokens: int
    price_source: str = ABSENT  # which price table priced the tokens (analyzer/pricing.py), e.g. "genai-prices 0.2.3"
    evaluation: dict[str, Any] = _optional_section(dict)  # evaluation name -> score stats (analyzer/evaluations.py)


@dataclass
class Window:
    start_ns: int
    end_ns: int
    seconds: float
    data_start_ns: int
    data_end_ns: int
    data_seconds: float  # every `_per_s` is over this


@dataclass
class Bottleneck:
    """A (kind, name)'s share of the critical path over the slowest and a sample of the other traces."""

    kind: str
    name: str
    critical_path_ms: float
    share: float


@dataclass
class PathStep:
    kind: str
    name: str
    self_ms: float


@dataclass
class SlowTrace:
    trace_id: str
    duration_ms: float
    root: str
    critical_path: list[PathStep]


@dataclass
class ErrorGroup:
    kind: str
    name: str
    error_type: str
    count: int
    trace_id: str | None
    log_excerpt: str | None


@dataclass
class ResourceVerdicts:
    cpu_utilization: LevelVerdict
    memory_rss_bytes: LevelVerdict


@dataclass
class Resources:
    cpu_utilization: float | None
    memory_rss_bytes: float | None
    gpu_utilization: float | None
    gpu_memory_bytes: float | None
    inference: dict[str, float]  # cache_hit_ratio, cache_requests, batches, mean_batch_size where recorded
    baseline: ResourceVerdicts = ABSENT


@dataclass
class TraceLatencySeries:
    p50: list[float | None]
    p95: list[float | None]
    p99: list[float | None]


@dataclass
class Timeseries:
    """Per bucket over the span of the data (the HTML report's over-time charts)."""

    bucket_start_ns: list[int]
    bucket_seconds: float
    calls: list[int]
    errors: list[int]
    traces: list[int]
    traces_per_s: list[float | None]
    trace_latency_ms: TraceLatencySeries
    input_tokens: list[int]
    output_tokens: list[int]
    cost_usd: list[float] = ABSENT  # push-down: not given


@dataclass
class BaselineWindow:
    start_ns: int | None
    end_ns: int | None
    overlap_s: float | None
    moved_start_s: float


@dataclass
class Report:
    """A performance report of one window of one source."""

    schema: str
    version: int
    generated_at: str
    source: str
    service: str | None
    window: Window
    baseline_label: str | None
    totals: Totals
    services: list[Service]
    groups: list[Group]
    bottlenecks: list[Bottleneck]
    slowest_traces: list[SlowTrace]
    errors: list[ErrorGroup]
    resources: Resources
    timeseries: Timeseries
    traces: dict[str, dict[str, Any]]  # waterfalls of the slowest and failing traces (analyzer/trace.py)
    recommendations: list[str]
    analysis_seconds: float | None
    baseline_window: BaselineWindow = ABSENT
    traces_fetched: int = ABSENT  # push-down: traces read from Jaeger to explain the figures
    figures_from: dict[str, int] = _optional_section(dict)  # local-store summaries: summary rows and raw spans read
    # Sections later issues fill from their own modules; left out of the JSON while empty.
    conversations: list[dict[str, Any]] = _optional_section()  # analyzer/conversations.py
    evaluations: dict[str, Any] = _optional_section(dict)  # analyzer/evaluations.py: totals, per agent/model, baseline

    # -- reading ------------------------------------------------------------------------------
    def scope_items(self, scope: str) -> list[tuple[dict[str, str], Any]]:
        """(labels, item) of a rule scope: groups by kind/name, services by service, or the single totals/resources."""
        if scope == "totals":
            return [({}, self.totals)]
        if scope == "resources":
            return [({}, self.resources)]
        if scope == "services":
            return [({"service": s.service}, s) for s in self.services]
        if scope == "groups":
            return [({"kind": g.kind, "name": g.name}, g) for g in self.groups]
        raise KeyError(f"unknown scope {scope!r}; scopes: {', '.join(SCOPE_TYPES)}")

    @staticmethod
    def figure(item: Any, path: str) -> float | None:
        """The number at `path` ("latency_ms.p95", "inference.cache_hit_ratio") of a scope item;
        None where the report has no value. A path that is not a figure of the item's type raises KeyError."""
        if path not in figure_paths(type(item)):
            raise KeyError(f"{path!r} is not a figure of {type(item).__name__}; {', '.join(figure_paths(type(item)))}")
        node: Any = item
        for part in path.split("."):
            node = node.get(part, ABSENT) if isinstance(node, dict) else getattr(node, part, ABSENT)
        return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None

    # -- writing ------------------------------------------------------------------------------
    def to_dict(self, *, with_samples: bool = True) -> dict[str, Any]:
        data = to_dict(self)
        if not with_samples:
            data["groups"] = [{k: v for k, v in g.items() if k != "latency_samples_ms"} for g in data["groups"]]
        return data

    def to_json(self, *, with_samples: bool = False) -> str:
        return json.dumps(self.to_dict(with_samples=with_samples), indent=2, default=float)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """A report from its JSON form; a missing or unknown key raises ValueError naming its path."""
        return from_dict(cls, data)


SCOPE_TYPES: dict[str, type] = {"groups": Group, "totals": Totals, "services": Service, "resources": Resources}
INFERENCE_FIGURES = ("cache_hit_ratio", "cache_requests", "batches", "mean_batch_size")  # analyzer/sources/local.py


# -- generic: dataclass <-> JSON, schema, figure paths ------------------------------------------------

@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """Resolved field types of a model class (resolving them costs ~0.5 ms a class: once each)."""
    return typing.get_type_hints(cls)


@functools.cache
def _plain(tp: Any) -> bool:
    """Whether `_convert` leaves values of `tp` as they are (no model class or list inside): a
    list of such items (a group's 2,000 latency samples) is then taken whole, not item by item."""
    if dataclasses.is_dataclass(tp) or typing.get_origin(tp) is list:
        return False
    return all(_plain(a) for a in _args(tp)) if _is_union(tp) else True


def to_dict(obj: Any) -> Any:
    cls = type(obj)
    if cls in _SCALARS:
        return obj
    if hasattr(cls, "__dataclass_fields__"):
        out = {}
        for name, omit_empty, plain_list in _writing_plan(cls):
            value = getattr(obj, name)
            if value is ABSENT or (omit_empty and not value):
                continue
            if type(value) in _SCALARS:
                out[name] = value
            elif plain_list and type(value) is list:  # a list of numbers or text (2,000 latency samples): copied whole
                out[name] = value[:]
            else:
                out[name] = to_dict(value)
        return out
    if isinstance(obj, list):  # plain items (a group's 2,000 latency samples) taken as they are, without a call each
        return [v if type(v) in _SCALARS else to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: v if type(v) in _SCALARS else to_dict(v) for k, v in obj.items()}
    return obj


_SCALARS = frozenset((float, int, str, bool, type(None)))


@functools.cache
def _writing_plan(cls: type) -> tuple[tuple[str, bool, bool], ...]:
    """Per field of a model class: name, whether it is left out while empty, whether it is a list of
    plain items (`_plain`), which `to_dict` copies whole instead of item by item."""
    hints = _hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        inner = [a for a in _args(tp) if a is not type(None)] if _is_union(tp) else [tp]
        plain_list = len(inner) == 1 and typing.get_origin(inner[0]) is list and all(_plain(a) for a in _args(inner[0]))
        out.append((f.name, bool(f.metadata.get("omit_empty")), plain_list))
    return tuple(out)


def _args(tp: Any) -> tuple[Any, ...]:
    return typing.get_args(tp)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def _convert(tp: Any, value: Any, where: str) -> Any:
    if _plain(tp):
        return value
    if _is_union(tp):
        if value is None and type(None) in _args(tp):
            return None
        inner = [a for a in _args(tp) if a is not type(None)]
        tp = inner[0] if len(inner) == 1 else tp
        if _is_union(tp):
            return value
    if dataclasses.is_dataclass(tp):
        if isinstance(tp, type) and isinstance(value, tp):
            return value
        return from_dict(tp, value, where)
    if typing.get_origin(tp) is list and isinstance(value, list):
        (item,) = _args(tp) or (Any,)
        if _plain(item):
            return list(value)
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def from_dict(cls: type, data: Any, where: str = "report") -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
    names, plan = _plan(cls)
    if not names.issuperset(data):
        unknown = sorted(set(data) - names)
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} (not in the {cls.__name__} model)")
    kwargs = {}
    for name, tp, plain, required in plan:
        if name in data:
            kwargs[name] = data[name] if plain else _convert(tp, data[name], f"{where}.{name}")
        elif required:
            raise ValueError(f"{where}: missing key {name!r}")
    return cls(**kwargs)


@functools.cache
def _plan(cls: type) -> tuple[frozenset[str], list[tuple[str, Any, bool, bool]]]:
    """Field names of a model class, and per field: name, type, whether `_convert` leaves it as it is, whether it is required."""
    hints = _hints(cls)
    fields = dataclasses.fields(cls)
    return frozenset(f.name for f in fields), [
        (f.name, hints[f.name], _plain(hints[f.name]), f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING) for f in fields]


def figure_paths(cls: type, prefix: str = "") -> tuple[str, ...]:
    """Every numeric figure of a model class, as dotted paths (nested models and the inference figures included)."""
    out: list[str] = []
    for f in dataclasses.fields(cls):
        if f.name in ("latency_samples_ms", "baseline", "evaluation"):
            continue  # samples are not a figure; verdicts are what regression rules read
        tp = _hints(cls)[f.name]
        inner = [a for a in _args(tp) if a is not type(None)] if _is_union(tp) else [tp]
        path = prefix + f.name
        if len(inner) == 1 and dataclasses.is_dataclass(inner[0]) and inner[0] is not Histogram:
            out += figure_paths(inner[0], path + ".")
        elif any(a in (int, float) for a in inner):
            out.append(path)
        elif f.name == "inference":
            out += [f"{path}.{k}" for k in INFERENCE_FIGURES]
    return tuple(out)


def _schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    if _is_union(tp):
        options = [_schema(a, defs) for a in _args(tp)]
        if all(set(o) == {"type"} and isinstance(o["type"], str) for o in options):
            return {"type": [o["type"] for o in options]}  # int | None -> ["integer", "null"]
        return {"anyOf": options}
    if tp is type(None):
        return {"type": "null"}
    if tp is Any:
        return {}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = _args(tp) or (Any,)
        return {"type": "array", "items": _schema(item, defs)}
    if origin is dict:
        _, value = _args(tp)
        return {"type": "object", "additionalProperties": _schema(value, defs)}
    if dataclasses.is_dataclass(tp):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # recursion guard
            hints = _hints(tp)
            props = {f.name: _schema(hints[f.name], defs) for f in dataclasses.fields(tp)}
            required = [f.name for f in dataclasses.fields(tp)
                        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
            doc = (tp.__doc__ or "").strip().splitlines()[0] if tp.__doc__ and not tp.__doc__.startswith(tp.__name__ + "(") else ""
            defs[name] = {"type": "object", **({"description": doc} if doc else {}), "properties": props,
                          "required": required, "additionalProperties": False}
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"no JSON schema for {tp!r}")


def schema_text(schema: dict[str, Any]) -> str:
    """The schema as JSON, one line per property, so the docs page stays readable and diffs stay small."""
    head = {k: v for k, v in schema.items() if k != "$defs"}
    lines = ["{" + json.dumps(head)[1:-1] + ',', ' "$defs": {']
    defs = list(schema["$defs"].items())
    for i, (name, d) in enumerate(defs):
        meta = {k: v for k, v in d.items() if k != "properties"}
        lines.append(f"  {json.dumps(name)}: {{" + json.dumps(meta)[1:-1] + ', "properties": {')
        props = list(d["properties"].items())
        for j, (prop, sch) in enumerate(props):
            lines.append(f"    {json.dumps(prop)}: {json.dumps(sch)}" + ("," if j < len(props) - 1 else ""))
        lines.append("  }}" + ("," if i < len(defs) - 1 else ""))
    lines.append(" }")
    lines.append("}")
    return "\n".join(lines)


def json_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of a report document of this SCHEMA_VERSION."""
    defs: dict[str, Any] = {}
    root = _schema(Report, defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA}/v{SCHEMA_VERSION}",
        "title": f"{SCHEMA} version {SCHEMA_VERSION}",
        **root,
        "$defs": defs,
    }
