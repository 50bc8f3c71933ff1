"""The one recorder that the decorators and every instrumentor write spans, metrics and events through.

A `Recorder` is built from providers — the ones given to an instrumentor's `instrument(...)`, or the
global ones (`default_recorder()`, which follows the global providers when they change, so a
test or `pytest-genai-semconv` that swaps them is honoured). Its tracer and meter carry
agent-otel's version and the schema URL of the conventions in force (`semconv.schema_url()`).

A call is described once by a `CallSpec` (`make_spec`): span name, kind, start attributes and the
metric attributes, computed at decoration time so the hot path is `start_span` + `attach` + a
deque append. Token usage is recorded in one place, `Recorder.usage`.

Why not util-genai's TelemetryHandler: measured per call it costs 1.7-4.4x a raw span, too heavy
for a decorator hot path; we follow its span shapes, suppression keys and error.type instead.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import _internal as _metrics_api
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.genai.utils import fq_exception_type

from agent_otel import content, semconv
from agent_otel.version import __version__
from agent_otel._guard import report_internal_error
from agent_otel.handoff import mark_receiving_agent
from agent_otel.instruments import Instruments
from agent_otel.instruments import record as _record
from agent_otel.sanitize import clean_attributes
from agent_otel.stacking import HANDLER_MODULE, enrich, open_model_call

SCOPE = "agent_otel"
# The name of the agent whose run is in progress: tool spans carry it as gen_ai.agent.name.
AGENT_NAME_KEY = "agent_otel.genai.agent_name"
_perf = time.perf_counter
_modules = sys.modules

# Model name prefixes -> gen_ai.provider.name, for `@llm` without provider= (well-known values).
_PROVIDER_BY_MODEL_PREFIX: tuple[tuple[str, str], ...] = (
    ("gpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"), ("chatgpt", "openai"),
    ("text-embedding-", "openai"), ("claude", "anthropic"), ("gemini", "gcp.gemini"),
    ("mistral", "mistral_ai"), ("mixtral", "mistral_ai"), ("codestral", "mistral_ai"), ("command", "cohere"),
    ("deepseek", "deepseek"), ("grok", "x_ai"), ("sonar", "perplexity"), ("llama", "groq"),
)
# Content kept for the inference-details event until its span ends, by span (shared by all
# recorders: a client call inside `@llm` adds to the decorator's span).
_event_content: dict[int, dict[str, Any]] = {}
# Metric attributes of a model call that a client inside the call (or record_usage) may set on its span.
_MODEL_METRIC_KEYS = (semconv.GEN_AI_PROVIDER_NAME, semconv.GEN_AI_REQUEST_MODEL, semconv.GEN_AI_RESPONSE_MODEL,
                      semconv.SERVER_ADDRESS, semconv.SERVER_PORT)
# What GenAI instrumentations inside a model span published for it (see stacking.py), by span.
_stacked: dict[int, Any] = {}
UNKNOWN_PROVIDER = "unknown"  # custom value (the conventions' enum is open); documented in docs/instrumentation.md


def provider_for_model(model: str | None) -> str | None:
    m = (model or "").lower()
    for prefix, provider in _PROVIDER_BY_MODEL_PREFIX:
        if m.startswith(prefix):
            return provider
    return None


@dataclass(frozen=True)
class CallSpec:
    """Everything about one decorated function / one kind of call that does not change per call."""

    kind: str
    span_name: str
    span_kind: SpanKind
    attributes: Mapping[str, Any]
    own_metric_attrs: Mapping[str, Any]  # agent_otel.duration
    conv_metric_attrs: Mapping[str, Any]  # the kind's convention metric (if any)
    capture: bool | None
    input_key: str
    output_key: str
    agent_name: str | None = None
    batch_from_args: bool = False
    model_call: bool = False
    metric_kind: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Metric attribute dicts derived per call (agent name, provider fallback), kept so that every
    # call with the same values shares one dict: the metric drain merges them by identity.
    derived: dict[Any, Mapping[str, Any]] = field(default_factory=dict, compare=False, repr=False)

    def derive(self, key: Any, base: Mapping[str, Any], extra: Mapping[str, Any]) -> Mapping[str, Any]:
        """`{**base, **extra}`, one shared dict per `key` when `base` is this spec's own conv attributes."""
        if base is not self.conv_metric_attrs:
            return {**base, **extra}
        try:
            hit = self.derived.get(key)
        except TypeError:  # an unhashable attribute value
            return {**base, **extra}
        if hit is None:
            if len(self.derived) >= 256:  # bounded: a new dict per call past that
                return {**base, **extra}
            hit = self.derived[key] = {**base, **extra}
        return hit


def _keys(attrs: Mapping[str, Any], metric: str) -> dict[str, Any]:
    allowed = semconv.METRIC_ATTRIBUTES[metric]
    return {k: v for k, v in attrs.items() if k in allowed}


def make_spec(kind: str, name: str | None, opts: Mapping[str, Any]) -> CallSpec:
    """The span name, attributes and metric attributes of one decoration (see the decorators' docs for opts)."""
    s = semconv
    user_attrs = clean_attributes(opts.get("attributes"))
    capture = opts.get("capture_content")
    attrs: dict[str, Any] = {s.AGENT_OTEL_KIND: kind}
    span_kind = SpanKind.INTERNAL
    provider = opts.get("provider") or opts.get("system")
    guessed = not provider  # a provider inferred from the model name yields to the one a client inside reports
    batch_from_args = False
    agent_name = None
    input_key, output_key = s.AGENT_OTEL_ARGS, s.AGENT_OTEL_RESULT
    op: str | None = None
    if name is None and kind not in (s.KIND_LLM, s.KIND_INFERENCE):
        name = kind

    if kind == s.KIND_AGENT:
        op = s.OP_INVOKE_AGENT
        attrs[s.GEN_AI_AGENT_NAME] = agent_name = name
        for key, attr in (("agent_id", s.GEN_AI_AGENT_ID), ("description", s.GEN_AI_AGENT_DESCRIPTION), ("version", s.GEN_AI_AGENT_VERSION)):
            if opts.get(key):
                attrs[attr] = str(opts[key])
        if opts.get("model"):
            attrs[s.GEN_AI_REQUEST_MODEL] = str(opts["model"])
        span_name = s.span_name(op, name)
    elif kind == s.KIND_WORKFLOW:
        op = s.OP_INVOKE_WORKFLOW
        attrs[s.GEN_AI_WORKFLOW_NAME] = name
        span_name = s.span_name(op, name)
    elif kind == s.KIND_TOOL:
        op = s.OP_EXECUTE_TOOL
        attrs[s.GEN_AI_TOOL_NAME] = name
        attrs[s.GEN_AI_TOOL_TYPE] = opts.get("tool_type") or "function"
        if opts.get("description"):
            attrs[s.GEN_AI_TOOL_DESCRIPTION] = str(opts["description"])
        if opts.get("call_id"):
            attrs[s.GEN_AI_TOOL_CALL_ID] = str(opts["call_id"])
        input_key, output_key = s.GEN_AI_TOOL_CALL_ARGUMENTS, s.GEN_AI_TOOL_CALL_RESULT
        span_name = s.span_name(op, name)
    elif kind == s.KIND_LLM:
        op = opts.get("operation") or s.OP_CHAT
        span_kind = SpanKind.CLIENT
        model = opts.get("model")
        if model:
            attrs[s.GEN_AI_REQUEST_MODEL] = str(model)
        provider = provider or provider_for_model(model)
        span_name = s.span_name(op, model)
        name = model or name or op  # model calls are reported per model
        input_key, output_key = s.GEN_AI_INPUT_MESSAGES, s.GEN_AI_OUTPUT_MESSAGES
    elif kind == s.KIND_INFERENCE:
        # Local model inference (an onnxruntime classifier) is not a GenAI operation; it becomes
        # one only when the caller names a model operation (chat, generate_content, embeddings...).
        model = opts.get("model")
        op = opts.get("operation")
        if op:
            span_kind = SpanKind.CLIENT
            if model:
                attrs[s.GEN_AI_REQUEST_MODEL] = str(model)
            provider = provider or provider_for_model(model)
        else:
            if model:
                attrs[s.AGENT_OTEL_INFERENCE_MODEL] = str(model)
            if provider:
                attrs[s.AGENT_OTEL_INFERENCE_PROVIDER] = str(provider)
            provider = None
        batch = opts.get("batch_size")
        if batch is not None:
            attrs[s.AGENT_OTEL_BATCH_SIZE] = int(batch)
        else:
            batch_from_args = True
        span_name = s.span_name(op or "inference", model)
        name = model or name or "inference"
    else:  # step: a plain step, or a GenAI operation that is not a model call
        op = opts.get("operation")
        if op is not None and op not in s.STEP_OPERATIONS:
            raise ValueError(f"step(operation={op!r}): expected one of {', '.join(s.STEP_OPERATIONS)} (model calls are @llm)")
        attrs[s.AGENT_OTEL_STEP_NAME] = name
        if op == s.OP_INVOKE_WORKFLOW:
            attrs[s.GEN_AI_WORKFLOW_NAME] = name
        if op == s.OP_RETRIEVAL and opts.get("data_source_id"):
            attrs[s.GEN_AI_DATA_SOURCE_ID] = str(opts["data_source_id"])
        if op in (s.OP_RETRIEVAL, *s.MEMORY_OPERATIONS):
            span_kind = SpanKind.CLIENT  # the model: CLIENT (a store or search service, usually another process)
        if op == s.OP_RETRIEVAL:
            span_name = s.span_name(op, attrs.get(s.GEN_AI_DATA_SOURCE_ID) or name)
        elif op in s.MEMORY_OPERATIONS:
            span_name = op
        else:
            span_name = s.span_name(op, name) if op else (name or "step")

    if op:
        attrs[s.GEN_AI_OPERATION_NAME] = op
    if provider and op:
        attrs[s.GEN_AI_PROVIDER_NAME] = str(provider)
    attrs[s.AGENT_OTEL_NAME] = name or span_name
    attrs.update(user_attrs)
    own = {s.AGENT_OTEL_KIND: kind, s.AGENT_OTEL_NAME: attrs[s.AGENT_OTEL_NAME]}
    conv: dict[str, Any] = {}
    model_call = kind == s.KIND_LLM or (kind == s.KIND_INFERENCE and bool(op))
    if model_call:
        conv = _keys(attrs, s.METRIC_OPERATION_DURATION)
    elif kind == s.KIND_AGENT:
        conv = _keys(attrs, s.METRIC_INVOKE_AGENT_DURATION)
    elif kind == s.KIND_TOOL:
        conv = _keys(attrs, s.METRIC_EXECUTE_TOOL_DURATION)
    elif kind == s.KIND_WORKFLOW or op == s.OP_INVOKE_WORKFLOW:
        conv = {s.GEN_AI_WORKFLOW_NAME: name}
    metric_kind = s.KIND_LLM if model_call else (s.KIND_WORKFLOW if op == s.OP_INVOKE_WORKFLOW else kind)
    return CallSpec(
        kind=kind, span_name=span_name, span_kind=span_kind, attributes=attrs, own_metric_attrs=own,
        conv_metric_attrs=conv, capture=capture, input_key=input_key, output_key=output_key,
        agent_name=agent_name, batch_from_args=batch_from_args, model_call=model_call,
        metric_kind=metric_kind, extra={"metric_kind": metric_kind, "provider_guessed": guessed},
    )


class Recorder:
    """Tracer, meter instruments and event logger from given providers (None: the global ones)."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None, logger_provider: Any = None) -> None:
        self.latest = semconv.latest_experimental()
        url = semconv.schema_url()
        self.schema_url = url
        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider, schema_url=url)
        self.instruments = _instruments_for(meter_provider, url, self.latest)
        self._logger_provider = logger_provider
        self._tracer_provider, self._meter_provider = tracer_provider, meter_provider
        self._by_kind = self.instruments.by_kind

    # -- events ---------------------------------------------------------------------------------
    def _event_logger(self) -> Any:
        from opentelemetry._logs import get_logger

        return get_logger(SCOPE, __version__, self._logger_provider, schema_url=self.schema_url)

    # -- spans ----------------------------------------------------------------------------------
    def begin(self, spec: CallSpec, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None, sig: Any = None,
              *, context: Any = None, attach: bool = True) -> tuple[Span, Any, Any, float]:
        """Start the span of one call; returns (span, its context, the attach token or None, start time)."""
        span = self.tracer.start_span(spec.span_name, context=context, kind=spec.span_kind, attributes=spec.attributes)
        ctx = trace.set_span_in_context(span, context)
        if spec.model_call:
            if HANDLER_MODULE in _modules and span.is_recording():  # a GenAI instrumentation inside enriches this span (stacking.py)
                ctx, _stacked[id(span)] = open_model_call(ctx, spec.attributes.get(semconv.GEN_AI_OPERATION_NAME))
        elif spec.agent_name is not None:
            ctx = otel_context.set_value(AGENT_NAME_KEY, spec.agent_name, ctx)
        parent = trace.get_current_span(context) if spec.agent_name is not None else None
        token = otel_context.attach(ctx) if attach else None
        if span.is_recording():
            if parent is not None:
                mark_receiving_agent(span, parent)  # a handoff's receiver names who handed off
            if spec.kind == semconv.KIND_TOOL:
                agent = otel_context.get_value(AGENT_NAME_KEY, context)
                if agent:
                    span.set_attribute(semconv.GEN_AI_AGENT_NAME, agent)
            if spec.batch_from_args:
                size = _batch_size(args)
                if size is not None:
                    span.set_attribute(semconv.AGENT_OTEL_BATCH_SIZE, size)
            if (args or kwargs) and _capturing(spec):
                self._capture_input(spec, span, args, kwargs or {}, sig)
        return span, ctx, token, _perf()

    def _capture_input(self, spec: CallSpec, span: Span, args: tuple[Any, ...], kwargs: dict[str, Any], sig: Any) -> None:
        bound = _bound_arguments(sig, args, kwargs)
        if spec.model_call:
            self.model_input(span, content.input_messages_from_arguments(bound))
        else:
            span.set_attribute(spec.input_key, content.render(bound))

    def model_input(self, span: Span, messages: list[dict[str, Any]] | None, system: list[dict[str, Any]] | None = None,
                    tools: list[dict[str, Any]] | None = None) -> None:
        """Opt-in content of a model call in the conventions' shapes: on the span and/or kept for the event."""
        pol = content.policy()
        values = {semconv.GEN_AI_INPUT_MESSAGES: messages, semconv.GEN_AI_SYSTEM_INSTRUCTIONS: system, semconv.GEN_AI_TOOL_DEFINITIONS: tools}
        self._keep_content(span, pol, values)

    def model_output(self, span: Span, messages: list[dict[str, Any]] | None) -> None:
        self._keep_content(span, content.policy(), {semconv.GEN_AI_OUTPUT_MESSAGES: messages})

    def _keep_content(self, span: Span, pol: Any, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            if not value:
                continue
            safe = content.clean_structure(value, pol)
            if pol.on_span:
                span.set_attribute(key, json.dumps(safe, ensure_ascii=False, separators=(",", ":")))
            if pol.on_event:
                _event_content.setdefault(id(span), {})[key] = safe

    def end(self, spec: CallSpec, span: Span, token: Any, t0: float, exc: BaseException | None,
            result: Any = None, has_result: bool = False) -> None:
        """End the span of one call and queue its duration measurements. Never raises."""
        try:
            elapsed = _perf() - t0
            if token is not None:
                otel_context.detach(token)
            own = spec.own_metric_attrs
            conv = spec.conv_metric_attrs
            recording = span.is_recording()
            if exc is None or isinstance(exc, GeneratorExit):
                if has_result and recording and _capturing(spec):
                    self._capture_output(spec, span, result)
            else:
                error_type = fq_exception_type(exc)
                own = {**own, semconv.ERROR_TYPE: error_type}
                conv = {**conv, semconv.ERROR_TYPE: error_type}
                if recording:
                    span.set_attribute(semconv.ERROR_TYPE, error_type)
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__qualname__}: {exc}"[:1024]))
            if spec.model_call and recording:
                conv = self._finish_model_span(spec, span, conv)
            elif spec.kind == semconv.KIND_TOOL and recording:
                attrs = span.attributes
                # Only a call that added attributes (begin adds the agent's name) can carry one.
                agent = attrs.get(semconv.GEN_AI_AGENT_NAME) if len(attrs) > len(spec.attributes) else None
                if agent:
                    conv = spec.derive(("agent", agent), conv, {semconv.GEN_AI_AGENT_NAME: agent})
            span.end()
            hist = self._by_kind.get(spec.metric_kind)
            if hist is not None:
                _record(elapsed, self.instruments.duration, own, hist, conv)
            else:
                _record(elapsed, self.instruments.duration, own)
        except Exception as internal:  # noqa: BLE001
            report_internal_error("recorder.end", internal)

    def _capture_output(self, spec: CallSpec, span: Span, result: Any) -> None:
        if spec.model_call:
            self.model_output(span, content.output_messages_from_result(result))
        else:
            span.set_attribute(spec.output_key, content.render(result))

    def _finish_model_span(self, spec: CallSpec, span: Span, conv: Mapping[str, Any]) -> Mapping[str, Any]:
        """What a GenAI instrumentation inside published (stacking.py), provider fallback, metric attributes
        known only now (response model, server), the details event."""
        stacked = _stacked.pop(id(span), None) if _stacked else None
        applied = enrich(span, stacked, prefer_inner=(semconv.GEN_AI_PROVIDER_NAME,) if spec.extra.get("provider_guessed") else ()) if stacked is not None else {}
        attrs: Mapping[str, Any] = span.attributes
        if not applied and len(attrs) == len(spec.attributes) and conv is spec.conv_metric_attrs:
            # Nothing was added during the call (no client inside, no usage, no error): the
            # attributes are the decoration's own, and so are the metric attributes.
            out = conv
            if semconv.GEN_AI_PROVIDER_NAME not in spec.attributes:
                span.set_attribute(semconv.GEN_AI_PROVIDER_NAME, UNKNOWN_PROVIDER)
                out = spec.derive("unknown-provider", conv, {semconv.GEN_AI_PROVIDER_NAME: UNKNOWN_PROVIDER})
                attrs = span.attributes
        else:
            found = dict(attrs)
            if semconv.GEN_AI_PROVIDER_NAME not in found:
                span.set_attribute(semconv.GEN_AI_PROVIDER_NAME, UNKNOWN_PROVIDER)
                found[semconv.GEN_AI_PROVIDER_NAME] = UNKNOWN_PROVIDER
            attrs = found
            known = {key: found[key] for key in _MODEL_METRIC_KEYS if found.get(key) is not None}
            out = spec.derive(("model", *known.items()), conv, known)
        if applied:  # the instrumentation inside recorded no metrics: its usage and first-chunk time count here, once
            self.usage(span, out, applied.get(semconv.GEN_AI_USAGE_INPUT_TOKENS), applied.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS))
            ttfc = applied.get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
            if ttfc is not None:
                self.stream_timing(out, ttfc, [])
        kept = _event_content.pop(id(span), None) if _event_content else None
        if content.policy().events and attrs.get(semconv.GEN_AI_OPERATION_NAME) != semconv.OP_EMBEDDINGS:
            self._emit_details(span, attrs, kept or {})  # the event describes inference calls only
        return out

    def _emit_details(self, span: Span, attrs: Mapping[str, Any], kept: Mapping[str, Any]) -> None:
        from opentelemetry._logs import LogRecord

        event_attrs: dict[str, Any] = {k: v for k, v in attrs.items() if k.startswith("gen_ai.") or k in (semconv.ERROR_TYPE, semconv.SERVER_ADDRESS, semconv.SERVER_PORT)}
        for key in (semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES, semconv.GEN_AI_SYSTEM_INSTRUCTIONS, semconv.GEN_AI_TOOL_DEFINITIONS):
            event_attrs.pop(key, None)
            if key in kept:
                event_attrs[key] = kept[key]
        self._event_logger().emit(LogRecord(event_name=semconv.EVENT_INFERENCE_DETAILS, attributes=event_attrs,
                                            context=trace.set_span_in_context(span)))

    # -- metrics --------------------------------------------------------------------------------
    def usage(self, span: Span, metric_attrs: Mapping[str, Any], input_tokens: int | None = None, output_tokens: int | None = None,
              *, cache_read_tokens: int | None = None, add: bool = False) -> None:
        """Token usage of one model call: on its span (added up when `add`) and in gen_ai.client.token.usage."""
        attrs = _keys(metric_attrs, semconv.METRIC_TOKEN_USAGE)
        attrs.setdefault(semconv.GEN_AI_PROVIDER_NAME, UNKNOWN_PROVIDER)  # required on the metric
        span_attrs = (getattr(span, "attributes", None) or {}) if add else {}
        for key, token_type, value in (
            (semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.TOKEN_TYPE_INPUT, input_tokens),
            (semconv.GEN_AI_USAGE_OUTPUT_TOKENS, semconv.TOKEN_TYPE_OUTPUT, output_tokens),
        ):
            if value is None:
                continue
            count = int(value)
            if count < 0:
                raise ValueError(f"{key} must not be negative, got {value!r}")
            previous = span_attrs.get(key)
            span.set_attribute(key, (previous if isinstance(previous, int) else 0) + count)
            _record(count, self.instruments.token_usage, {**attrs, semconv.GEN_AI_TOKEN_TYPE: token_type})
        if cache_read_tokens is not None:
            span.set_attribute(semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, int(cache_read_tokens))

    def stream_timing(self, metric_attrs: Mapping[str, Any], first_chunk_s: float | None, chunk_gaps_s: list[float]) -> None:
        """time_to_first_chunk and time_per_output_chunk of one streamed model call."""
        attrs = _keys(metric_attrs, semconv.METRIC_TIME_TO_FIRST_CHUNK)
        if first_chunk_s is not None:
            _record(first_chunk_s, self.instruments.time_to_first_chunk, attrs)
        for gap in chunk_gaps_s:
            _record(gap, self.instruments.time_per_output_chunk, attrs)


_instruments_cache: dict[tuple[int, str, bool], tuple[Any, Instruments]] = {}


def _instruments_for(meter_provider: Any, url: str, latest: bool) -> Instruments:
    """One set of instruments per meter provider and conventions mode (instruments register once)."""
    mp = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    key = (id(mp), url, latest)
    hit = _instruments_cache.get(key)
    if hit is not None and hit[0] is mp:
        return hit[1]
    inst = Instruments(metrics.get_meter(SCOPE, __version__, mp, schema_url=url), latest=latest)
    _instruments_cache[key] = (mp, inst)
    return inst


def _capturing(spec: CallSpec) -> bool:
    if spec.capture is not None:
        return spec.capture
    pol = content.policy()
    return pol.on_span or (spec.model_call and pol.on_event)


def _bound_arguments(sig: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if sig is None:
        return {"args": list(args), "kwargs": kwargs}
    try:
        bound = sig.bind_partial(*args, **kwargs).arguments
    except TypeError:
        return {"args": list(args), "kwargs": kwargs}
    return {k: v for k, v in bound.items() if k not in ("self", "cls")}


def _batch_size(args: tuple[Any, ...]) -> int | None:
    if not args:
        return None
    first = args[0]
    shape = getattr(first, "shape", None)
    if shape:
        return int(shape[0])
    if isinstance(first, Mapping) and first:
        inner = getattr(next(iter(first.values())), "shape", None)
        return int(inner[0]) if inner else None
    if isinstance(first, (list, tuple)):
        return len(first)
    return None


_default: Recorder | None = None
_default_lock = threading.Lock()


_UNREAD = object()


def _global_providers() -> tuple[Any, Any]:
    """What the global tracer and meter providers are now, as cheaply as the decorators' hot path needs.

    While none is set, `get_*_provider()` looks the OTEL_PYTHON_*_PROVIDER variable up in
    the environment at every call (~1 us, a KeyError each time); the API's own globals say the same
    for free (None: not set yet, the proxy). Falls back to the getters if those globals move.
    """
    tp = getattr(trace, "_TRACER_PROVIDER", _UNREAD)
    mp = getattr(_metrics_api, "_METER_PROVIDER", _UNREAD)
    if tp is _UNREAD:
        tp = trace.get_tracer_provider()
    if mp is _UNREAD:
        mp = metrics.get_meter_provider()
    return tp, mp


def default_recorder() -> Recorder:
    """The recorder on the global providers, rebuilt when they (or the conventions opt-in) change."""
    global _default
    rec = _default
    tp, mp = _global_providers()
    if rec is not None and rec._global_tp is tp and rec._global_mp is mp:
        return rec
    trace.get_tracer_provider(), metrics.get_meter_provider()  # (loads a provider named in the environment)
    tp, mp = _global_providers()
    with _default_lock:
        rec = Recorder()
        rec._global_tp, rec._global_mp = tp, mp  # type: ignore[attr-defined]
        _default = rec
    return rec


def reset_default_recorder() -> None:
    """Forget the global recorder (after OTEL_SEMCONV_STABILITY_OPT_IN changes, in tests)."""
    global _default
    _default = None


def recorder_for(kwargs: Mapping[str, Any]) -> Any:
    """What an instrumentor's `_instrument(**kwargs)` records through: a function returning the recorder.

    Providers given (tracer_provider / meter_provider / logger_provider) give a recorder of their own;
    none given, the global recorder at each call.
    """
    tp, mp, lp = kwargs.get("tracer_provider"), kwargs.get("meter_provider"), kwargs.get("logger_provider")
    if tp is None and mp is None and lp is None:
        return default_recorder
    own = Recorder(tp, mp, lp)
    return lambda: own
