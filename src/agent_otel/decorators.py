"""`agent`, `step`, `tool`, `llm`, `inference`, `workflow`: decorators that are also context managers.

Each call becomes one span (GenAI semantic conventions) and one duration measurement. The hot path
is kept short on purpose: span name, attributes and instruments are computed once at decoration,
and a call does `start_span` + `context.attach` (about half the cost of `start_as_current_span`)
plus one histogram record (two for model calls, whose convention metric is required).

Generators and async generators keep their span open until exhausted or closed, and attach the
span's context only while their own code runs: a consumer that stops early, or resumes them
from another task, never trips "Failed to detach context".
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

from agent_otel import semconv
from agent_otel._guard import report_internal_error
from agent_otel.content import policy, render
from agent_otel.instruments import histograms_for
from agent_otel.instruments import record as _record
from agent_otel.sanitize import clean_attributes

F = TypeVar("F", bound=Callable[..., Any])
# Context key set while a model call is recorded, so an instrumented client inside `@llm`
# enriches that span instead of opening a duplicate (see instrumentation/_client.py).
MODEL_CALL_KEY = "agent_otel.genai.model_call"
_tracer = trace.get_tracer("agent_otel", "0.1.0")
_perf = time.perf_counter


@dataclass(frozen=True)
class _Spec:
    """Everything about one decoration that does not change from call to call."""

    kind: str
    span_name: str
    span_kind: SpanKind
    attributes: Mapping[str, Any]
    metric_attrs: Mapping[str, Any]
    histograms: tuple[Any, ...]
    capture: bool | None
    input_key: str
    output_key: str
    batch_from_args: bool = False
    model_call: bool = False


def _input_output_keys(kind: str) -> tuple[str, str]:
    if kind == semconv.KIND_TOOL:
        return semconv.GEN_AI_TOOL_CALL_ARGUMENTS, semconv.GEN_AI_TOOL_CALL_RESULT
    if kind == semconv.KIND_LLM:
        return semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES
    return semconv.AGENT_OTEL_ARGS, semconv.AGENT_OTEL_RESULT


def _make_spec(kind: str, name: str | None, opts: dict[str, Any]) -> _Spec:
    user_attrs = clean_attributes(opts.get("attributes"))
    capture = opts.get("capture_content")
    attrs: dict[str, Any] = {semconv.AGENT_OTEL_KIND: kind}
    metric: dict[str, Any] = {semconv.AGENT_OTEL_KIND: kind}
    span_kind = SpanKind.INTERNAL
    provider = opts.get("provider") or opts.get("system")
    batch_from_args = False
    if name is None and kind not in (semconv.KIND_LLM, semconv.KIND_INFERENCE):
        name = kind

    if kind == semconv.KIND_AGENT:
        op = semconv.OP_INVOKE_AGENT
        attrs[semconv.GEN_AI_AGENT_NAME] = name
        for key, attr in (("agent_id", semconv.GEN_AI_AGENT_ID), ("description", semconv.GEN_AI_AGENT_DESCRIPTION)):
            if opts.get(key):
                attrs[attr] = str(opts[key])
        span_name = semconv.span_name(op, name)
    elif kind == semconv.KIND_WORKFLOW:
        op = semconv.OP_INVOKE_WORKFLOW
        span_name = semconv.span_name(op, name)
    elif kind == semconv.KIND_TOOL:
        op = semconv.OP_EXECUTE_TOOL
        attrs[semconv.GEN_AI_TOOL_NAME] = name
        attrs[semconv.GEN_AI_TOOL_TYPE] = opts.get("tool_type") or "function"
        if opts.get("description"):
            attrs[semconv.GEN_AI_TOOL_DESCRIPTION] = str(opts["description"])
        span_name = semconv.span_name(op, name)
    elif kind == semconv.KIND_LLM:
        op = opts.get("operation") or semconv.OP_CHAT
        span_kind = SpanKind.CLIENT
        model = opts.get("model")
        if model:
            attrs[semconv.GEN_AI_REQUEST_MODEL] = metric[semconv.GEN_AI_REQUEST_MODEL] = str(model)
        span_name = semconv.span_name(op, model)
        name = model or name or op  # model calls are reported per model
    elif kind == semconv.KIND_INFERENCE:
        op = semconv.OP_INFERENCE
        model = opts.get("model")
        if model:
            attrs[semconv.GEN_AI_REQUEST_MODEL] = metric[semconv.GEN_AI_REQUEST_MODEL] = str(model)
        batch = opts.get("batch_size")
        if batch is not None:
            attrs[semconv.AGENT_OTEL_BATCH_SIZE] = int(batch)
        else:
            batch_from_args = True
        span_name = semconv.span_name(op, model)
        name = model or name or op
    else:  # step
        op = None
        attrs[semconv.AGENT_OTEL_STEP_NAME] = name
        span_name = name or "step"

    if op:
        attrs[semconv.GEN_AI_OPERATION_NAME] = metric[semconv.GEN_AI_OPERATION_NAME] = op
    if provider:
        attrs[semconv.GEN_AI_PROVIDER_NAME] = metric[semconv.GEN_AI_PROVIDER_NAME] = str(provider)
    attrs[semconv.AGENT_OTEL_NAME] = metric[semconv.AGENT_OTEL_NAME] = name or span_name
    attrs.update(user_attrs)
    input_key, output_key = _input_output_keys(kind)
    return _Spec(
        kind=kind,
        span_name=span_name,
        span_kind=span_kind,
        attributes=attrs,
        metric_attrs=metric,
        histograms=histograms_for(kind),
        capture=capture,
        input_key=input_key,
        output_key=output_key,
        batch_from_args=batch_from_args,
        model_call=kind == semconv.KIND_LLM,
    )


def _capturing(spec: _Spec) -> bool:
    return spec.capture if spec.capture is not None else policy().capture


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


def _begin(spec: _Spec, args: tuple[Any, ...], kwargs: dict[str, Any], sig: inspect.Signature | None):
    span = _tracer.start_span(spec.span_name, kind=spec.span_kind, attributes=spec.attributes)
    ctx = trace.set_span_in_context(span)
    if spec.model_call:
        ctx = otel_context.set_value(MODEL_CALL_KEY, True, ctx)
    token = otel_context.attach(ctx)
    if span.is_recording():
        if spec.batch_from_args:
            size = _batch_size(args)
            if size is not None:
                span.set_attribute(semconv.AGENT_OTEL_BATCH_SIZE, size)
        if _capturing(spec) and (args or kwargs):
            span.set_attribute(spec.input_key, render(_bound_arguments(sig, args, kwargs)))
    return span, ctx, token, _perf()


def _bound_arguments(sig: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if sig is None:
        return {"args": list(args), "kwargs": kwargs}
    try:
        bound = sig.bind_partial(*args, **kwargs).arguments
    except TypeError:
        return {"args": list(args), "kwargs": kwargs}
    return {k: v for k, v in bound.items() if k not in ("self", "cls")}


def _end(spec: _Spec, span: Span, token: object | None, t0: float, exc: BaseException | None, result: Any = None, has_result: bool = False) -> None:
    try:
        elapsed = _perf() - t0
        if token is not None:
            otel_context.detach(token)
        attrs = spec.metric_attrs
        if exc is None or isinstance(exc, GeneratorExit):
            if has_result and span.is_recording() and _capturing(spec):
                span.set_attribute(spec.output_key, render(result))
        else:
            error_type = type(exc).__qualname__
            attrs = {**attrs, semconv.ERROR_TYPE: error_type}
            if span.is_recording():
                span.set_attribute(semconv.ERROR_TYPE, error_type)
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{error_type}: {exc}"[:1024]))
        span.end()
        _record(spec.histograms, elapsed, attrs)
    except Exception as internal:  # noqa: BLE001
        report_internal_error("decorators.end", internal)


def _start_or_none(spec: _Spec, args: tuple[Any, ...], kwargs: dict[str, Any], sig: inspect.Signature | None):
    try:
        return _begin(spec, args, kwargs, sig)
    except Exception as internal:  # noqa: BLE001
        report_internal_error("decorators.start", internal)
        return None


def _signature(func: Callable[..., Any], spec: _Spec) -> inspect.Signature | None:
    if spec.capture is False:
        return None
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _wrap(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    sig = _signature(func, spec)

    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
            started = _start_or_none(spec, args, kwargs, sig)
            if started is None:
                async for item in func(*args, **kwargs):
                    yield item
                return
            span, ctx, token, t0 = started
            try:
                agen = func(*args, **kwargs)
            finally:
                otel_context.detach(token)
            send: Any = None
            throw: BaseException | None = None
            try:
                while True:
                    tok = otel_context.attach(ctx)
                    try:
                        if throw is not None:
                            exc, throw = throw, None
                            item = await agen.athrow(exc)
                        else:
                            item = await agen.asend(send)
                    except StopAsyncIteration:
                        break
                    finally:
                        otel_context.detach(tok)
                    try:
                        send = yield item
                    except GeneratorExit:
                        tok = otel_context.attach(ctx)
                        try:
                            await agen.aclose()
                        finally:
                            otel_context.detach(tok)
                        raise
                    except BaseException as exc:  # thrown in by the consumer: pass it on
                        throw, send = exc, None
            except BaseException as exc:
                _end(spec, span, None, t0, exc)
                raise
            _end(spec, span, None, t0, None)

        return agen_wrapper

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            started = _start_or_none(spec, args, kwargs, sig)
            if started is None:
                return (yield from func(*args, **kwargs))
            span, ctx, token, t0 = started
            try:
                gen = func(*args, **kwargs)
            finally:
                otel_context.detach(token)
            send: Any = None
            throw: BaseException | None = None
            try:
                while True:
                    tok = otel_context.attach(ctx)
                    try:
                        if throw is not None:
                            exc, throw = throw, None
                            item = gen.throw(exc)
                        else:
                            item = gen.send(send)
                    except StopIteration as stop:
                        value = stop.value
                        break
                    finally:
                        otel_context.detach(tok)
                    try:
                        send = yield item
                    except GeneratorExit:
                        tok = otel_context.attach(ctx)
                        try:
                            gen.close()
                        finally:
                            otel_context.detach(tok)
                        raise
                    except BaseException as exc:
                        throw, send = exc, None
            except BaseException as exc:
                _end(spec, span, None, t0, exc)
                raise
            _end(spec, span, None, t0, None, value, value is not None)
            return value

        return gen_wrapper

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            started = _start_or_none(spec, args, kwargs, sig)
            if started is None:
                return await func(*args, **kwargs)
            span, _ctx, token, t0 = started
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                _end(spec, span, token, t0, exc)
                raise
            _end(spec, span, token, t0, None, result, True)
            return result

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = _start_or_none(spec, args, kwargs, sig)
        if started is None:
            return func(*args, **kwargs)
        span, _ctx, token, t0 = started
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            _end(spec, span, token, t0, exc)
            raise
        _end(spec, span, token, t0, None, result, True)
        return result

    return wrapper


class Traced:
    """What `agent_otel.step("name")` returns: a decorator, and a (async) context manager.

    As a context manager it yields the OpenTelemetry span so the block can add attributes.
    One instance may be entered several times, also nested; each `with` ends its own span.
    """

    def __init__(self, kind: str, name: str | None, opts: dict[str, Any]) -> None:
        self._kind = kind
        self._name = name
        self._opts = opts
        self._spec: _Spec | None = None
        self._open: list[tuple[Span, object, float] | None] = []

    def _spec_for(self, fallback_name: str | None) -> _Spec:
        return _make_spec(self._kind, self._name or fallback_name, self._opts)

    def __call__(self, func: F) -> F:
        if isinstance(func, (classmethod, staticmethod)):
            return type(func)(self(func.__func__))  # type: ignore[return-value]
        if not callable(func):
            raise TypeError(f"agent_otel.{self._kind} decorates functions, got {type(func).__name__}")
        try:
            spec = self._spec_for(getattr(func, "__name__", None) or repr(func))
        except Exception as internal:  # noqa: BLE001
            report_internal_error("decorators.decorate", internal)
            return func
        return _wrap(func, spec)  # type: ignore[return-value]

    # -- context manager ------------------------------------------------------------------
    def _enter(self) -> Span:
        try:
            if self._spec is None:
                self._spec = self._spec_for(None)
            started = _begin(self._spec, (), {}, None)
        except Exception as internal:  # noqa: BLE001
            report_internal_error("decorators.enter", internal)
            self._open.append(None)
            return INVALID_SPAN
        span, _ctx, token, t0 = started
        self._open.append((span, token, t0))
        return span

    def _exit(self, exc: BaseException | None) -> None:
        entry = self._open.pop() if self._open else None
        if entry is not None and self._spec is not None:
            span, token, t0 = entry
            _end(self._spec, span, token, t0, exc)

    def __enter__(self) -> Span:
        return self._enter()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        self._exit(exc)
        return False

    async def __aenter__(self) -> Span:
        return self._enter()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        self._exit(exc)
        return False


def _factory(kind: str, positional: str) -> Callable[..., Any]:
    """Build the public `agent`/`step`/... function: bare decorator, named, or keyword form."""

    @overload
    def make(__func: F) -> F: ...
    @overload
    def make(__arg: str | None = None, **opts: Any) -> Traced: ...

    def make(__arg: Any = None, **opts: Any) -> Any:
        if callable(__arg) or isinstance(__arg, (classmethod, staticmethod)):
            return Traced(kind, opts.pop("name", None), opts)(__arg)
        if __arg is not None:
            opts.setdefault(positional, __arg)
        return Traced(kind, opts.pop("name", None), opts)

    make.__name__ = kind
    return make


agent = _factory(semconv.KIND_AGENT, "name")
agent.__doc__ = """An agent run: span `invoke_agent {name}`. Options: name, description, agent_id, provider, attributes, capture_content."""
workflow = _factory(semconv.KIND_WORKFLOW, "name")
workflow.__doc__ = """A named workflow of agents: span `invoke_workflow {name}`."""
step = _factory(semconv.KIND_STEP, "name")
step.__doc__ = """A step inside an agent: span named after the step. Options: name, attributes, capture_content."""
tool = _factory(semconv.KIND_TOOL, "name")
tool.__doc__ = """A tool call: span `execute_tool {name}`. Options: name, description, tool_type, attributes, capture_content."""
llm = _factory(semconv.KIND_LLM, "model")
llm.__doc__ = """A model call: span `{operation} {model}` (default operation `chat`). Options: model, provider, operation, name, attributes, capture_content."""
inference = _factory(semconv.KIND_INFERENCE, "model")
inference.__doc__ = """A local inference call: span `inference {model}`. Options: model, system/provider, batch_size (else taken from the first argument's length/shape), attributes."""
