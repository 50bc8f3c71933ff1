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
from collections.abc import Callable
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry.trace import INVALID_SPAN, Span

from agent_otel import semconv
from agent_otel._guard import report_internal_error
from agent_otel.recorder import CallSpec, default_recorder, make_spec

F = TypeVar("F", bound=Callable[..., Any])


def _start_or_none(spec: CallSpec, args: tuple[Any, ...], kwargs: dict[str, Any], sig: inspect.Signature | None):
    """(recorder, span, ctx, token, t0) of a new call, or None when agent-otel itself failed."""
    try:
        rec = default_recorder()
        return (rec, *rec.begin(spec, args, kwargs, sig))
    except Exception as internal:  # noqa: BLE001
        report_internal_error("decorators.start", internal)
        return None


def _signature(func: Callable[..., Any], spec: CallSpec) -> inspect.Signature | None:
    if spec.capture is False:
        return None
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _wrap(func: Callable[..., Any], spec: CallSpec) -> Callable[..., Any]:
    sig = _signature(func, spec)

    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
            started = _start_or_none(spec, args, kwargs, sig)
            if started is None:
                async for item in func(*args, **kwargs):
                    yield item
                return
            rec, span, ctx, token, t0 = started
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
                rec.end(spec, span, None, t0, exc)
                raise
            rec.end(spec, span, None, t0, None)

        return agen_wrapper

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            started = _start_or_none(spec, args, kwargs, sig)
            if started is None:
                return (yield from func(*args, **kwargs))
            rec, span, ctx, token, t0 = started
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
                rec.end(spec, span, None, t0, exc)
                raise
            rec.end(spec, span, None, t0, None, value, value is not None)
            return value

        return gen_wrapper

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            started = _start_or_none(spec, args, kwargs, sig)
            if started is None:
                return await func(*args, **kwargs)
            rec, span, _ctx, token, t0 = started
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                rec.end(spec, span, token, t0, exc)
                raise
            rec.end(spec, span, token, t0, None, result, True)
            return result

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = _start_or_none(spec, args, kwargs, sig)
        if started is None:
            return func(*args, **kwargs)
        rec, span, _ctx, token, t0 = started
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            rec.end(spec, span, token, t0, exc)
            raise
        rec.end(spec, span, token, t0, None, result, True)
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
        self._spec: CallSpec | None = None
        self._open: list[tuple[Any, Span, object, float] | None] = []

    def _spec_for(self, fallback_name: str | None) -> CallSpec:
        return make_spec(self._kind, self._name or fallback_name, self._opts)

    def __call__(self, func: F) -> F:
        if isinstance(func, (classmethod, staticmethod)):
            return type(func)(self(func.__func__))  # type: ignore[return-value]
        if not callable(func):
            raise TypeError(f"agent_otel.{self._kind} decorates functions, got {type(func).__name__}")
        try:
            spec = self._spec_for(getattr(func, "__name__", None) or repr(func))
        except ValueError:
            raise  # a wrong option (e.g. step(operation="chat")): the message names it
        except Exception as internal:  # noqa: BLE001
            report_internal_error("decorators.decorate", internal)
            return func
        return _wrap(func, spec)  # type: ignore[return-value]

    # -- context manager ------------------------------------------------------------------
    def _enter(self) -> Span:
        try:
            if self._spec is None:
                self._spec = self._spec_for(None)
            rec = default_recorder()
            span, _ctx, token, t0 = rec.begin(self._spec, (), {}, None)
        except Exception as internal:  # noqa: BLE001
            report_internal_error("decorators.enter", internal)
            self._open.append(None)
            return INVALID_SPAN
        self._open.append((rec, span, token, t0))
        return span

    def _exit(self, exc: BaseException | None) -> None:
        entry = self._open.pop() if self._open else None
        if entry is not None and self._spec is not None:
            rec, span, token, t0 = entry
            rec.end(self._spec, span, token, t0, exc)

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
agent.__doc__ = """An agent run: INTERNAL span `invoke_agent {name}`. Options: name, description, agent_id, version, model, attributes, capture_content. Tools called inside carry its name."""
workflow = _factory(semconv.KIND_WORKFLOW, "name")
workflow.__doc__ = """A named workflow of agents: span `invoke_workflow {name}` with gen_ai.workflow.name."""
step = _factory(semconv.KIND_STEP, "name")
step.__doc__ = """A step inside an agent: span named after the step, no gen_ai.* attributes. Options: name, attributes, capture_content,
operation (a GenAI operation that is not a model call: retrieval, plan, invoke_workflow, search_memory, create_memory,
update_memory, upsert_memory, delete_memory; the span becomes `{operation} {name}`), data_source_id (retrieval)."""
tool = _factory(semconv.KIND_TOOL, "name")
tool.__doc__ = """A tool call: span `execute_tool {name}`. Options: name, description, tool_type, call_id, attributes, capture_content.
A per-call id: `agent_otel.set_tool_call_id(id)` inside the call."""
llm = _factory(semconv.KIND_LLM, "model")
llm.__doc__ = """A model call: CLIENT span `{operation} {model}` (default operation `chat`). Options: model, provider, operation, name,
attributes, capture_content. Without provider: inferred from the model name, else from an instrumented client called inside,
else the custom value `unknown`."""
inference = _factory(semconv.KIND_INFERENCE, "model")
inference.__doc__ = """A local inference call (e.g. an onnxruntime classifier): span `inference {model}` with agent_otel.inference.*
attributes and no gen_ai.* (local inference is not a GenAI operation). With operation= (chat, generate_content, embeddings...)
and provider= it is a GenAI model call like @llm. Options: model, provider/system, operation, batch_size (else taken from the first
argument's length/shape), attributes."""


def set_tool_call_id(call_id: str) -> None:
    """Set gen_ai.tool.call.id on the tool call in progress (the id the model gave the call)."""
    from opentelemetry import trace

    try:
        trace.get_current_span().set_attribute(semconv.GEN_AI_TOOL_CALL_ID, str(call_id))
    except Exception as internal:  # noqa: BLE001
        report_internal_error("decorators.set_tool_call_id", internal)
