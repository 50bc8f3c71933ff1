"""LangChain / LangGraph: runs become nested spans through a callback handler added to every
callback manager — the root run `invoke_agent {name}` (a LangGraph graph, an agent executor),
nested chains and graph nodes as steps, tools as `execute_tool {name}`, chat models as
`chat {model}` with token usage. LangGraph's internal runs (tagged `langsmith:hidden`) are
skipped; their children attach to the nearest visible ancestor, so a graph reads as its nodes.

Spans parent on the run tree LangChain reports (`parent_run_id`), not on the thread's current
context, so async graph steps and thread-pool work stay in one trace; the root run parents on the
current context, under a decorated agent. Where LangChain loses the run tree itself (Python < 3.11:
asyncio tasks do not take a context, so a runnable invoked inside an async graph step without its
`config` starts with no `parent_run_id`), the handler falls back to the innermost run it saw start
in the same context (a ContextVar it sets on each run start, which LangChain's executor hand-off
copies), so the run stays one trace on every Python. Instrumenting the model client too (OpenAI/Anthropic)
adds its HTTP-level client span under the LangChain model span.
"""

from __future__ import annotations

from collections.abc import Collection
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import wrapt
from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap

from agent_otel import semconv
from agent_otel._guard import report_internal_error
from agent_otel.instrumentation.langchain.package import _instruments
from agent_otel.recorder import default_recorder, make_spec, recorder_for

HIDDEN_TAG = "langsmith:hidden"


@dataclass(frozen=True)
class _Mark:
    """The innermost run started in this context, and the OpenTelemetry span current when it did."""

    run_id: UUID
    current_span: Any


_innermost: ContextVar[_Mark | None] = ContextVar("agent_otel_langchain_run", default=None)


class OtelCallbackHandler(BaseCallbackHandler):
    """Maps LangChain run callbacks onto spans; never raises into LangChain."""

    run_inline = True  # called in the run's own task, not an executor

    def __init__(self) -> None:
        super().__init__()
        self._runs: dict[UUID, tuple[Any, Any, float, Any, Any]] = {}  # spec, span, t0, its context, recorder
        self.recorder = default_recorder
        self._parents: dict[UUID, Any] = {}  # hidden run -> the span its children attach to
        self._outer: dict[UUID, _Mark | None] = {}  # run -> the mark it replaced in its context

    def _known(self, run_id: UUID | None) -> bool:
        return run_id is not None and (run_id in self._runs or run_id in self._parents)

    def _parent_run(self, parent_run_id: UUID | None) -> UUID | None:
        """The run LangChain names as parent; without one, the innermost live run of this context,
        unless the app made another span current since (then that span is the nearer parent)."""
        if parent_run_id is not None:
            return parent_run_id
        mark = _innermost.get()
        if mark is not None and self._known(mark.run_id) and trace.get_current_span() is mark.current_span:
            return mark.run_id
        return None

    def _parent_context(self, parent_run_id: UUID | None) -> Any:
        if parent_run_id is None:
            return otel_context.get_current()
        if parent_run_id in self._runs:
            return self._runs[parent_run_id][3]
        if parent_run_id in self._parents:
            return self._parents[parent_run_id]
        return otel_context.get_current()

    def _start(self, run_id: UUID, parent_run_id: UUID | None, kind: str, name: str | None, opts: dict[str, Any], tags: list[str] | None) -> None:
        try:
            ctx = self._parent_context(self._parent_run(parent_run_id))
            self._outer[run_id] = _innermost.get()
            _innermost.set(_Mark(run_id, trace.get_current_span()))
            if tags and HIDDEN_TAG in tags:
                self._parents[run_id] = ctx
                return
            spec = make_spec(kind, name, opts)
            rec = self.recorder()
            span, span_ctx, _token, t0 = rec.begin(spec, context=ctx, attach=False)
            self._runs[run_id] = (spec, span, t0, span_ctx, rec)
        except Exception as exc:  # noqa: BLE001
            report_internal_error("langchain.start", exc)

    def _finish(self, run_id: UUID, error: BaseException | None = None) -> None:
        outer = self._outer.pop(run_id, None)
        mark = _innermost.get()
        if mark is not None and mark.run_id == run_id:
            _innermost.set(outer)
        self._parents.pop(run_id, None)
        entry = self._runs.pop(run_id, None)
        if entry is not None:
            spec, span, t0, _ctx, rec = entry
            rec.end(spec, span, None, t0, error)

    # chains, agents, graph nodes
    def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                       tags: list[str] | None = None, metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        name = kwargs.get("name") or (serialized or {}).get("name") or ((serialized or {}).get("id") or ["chain"])[-1]
        kind = semconv.KIND_STEP if self._known(self._parent_run(parent_run_id)) else semconv.KIND_AGENT
        self._start(run_id, parent_run_id, kind, str(name), {"attributes": {"langchain.run_type": "chain"}}, tags)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, error)

    # tools
    def on_tool_start(self, serialized: dict[str, Any] | None, input_str: str, *, run_id: UUID, parent_run_id: UUID | None = None,
                      tags: list[str] | None = None, **kwargs: Any) -> None:
        name = kwargs.get("name") or (serialized or {}).get("name") or "tool"
        self._start(run_id, parent_run_id, semconv.KIND_TOOL, str(name), {"description": (serialized or {}).get("description")}, tags)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, error)

    # models
    def on_chat_model_start(self, serialized: dict[str, Any] | None, messages: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                            tags: list[str] | None = None, metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self._model_start(serialized, run_id, parent_run_id, tags, metadata, kwargs)

    def on_llm_start(self, serialized: dict[str, Any] | None, prompts: list[str], *, run_id: UUID, parent_run_id: UUID | None = None,
                     tags: list[str] | None = None, metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self._model_start(serialized, run_id, parent_run_id, tags, metadata, kwargs)

    def _model_start(self, serialized: dict[str, Any] | None, run_id: UUID, parent_run_id: UUID | None, tags: list[str] | None,
                     metadata: dict[str, Any] | None, kwargs: dict[str, Any]) -> None:
        params = kwargs.get("invocation_params") or {}
        meta = metadata or {}
        model = params.get("model") or params.get("model_name") or meta.get("ls_model_name") or (serialized or {}).get("name")
        provider = meta.get("ls_provider") or None  # else inferred from the model name
        self._start(run_id, parent_run_id, semconv.KIND_LLM, None, {"model": model, "provider": provider}, tags)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            entry = self._runs.get(run_id)
            if entry is not None:
                spec, span, _t0, _ctx, rec = entry
                usage = _usage(response)
                if usage:
                    rec.usage(span, spec.conv_metric_attrs, usage[0], usage[1])
        except Exception as exc:  # noqa: BLE001
            report_internal_error("langchain.llm_end", exc)
        self._finish(run_id)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, error)


def _usage(response: Any) -> tuple[int, int] | None:
    """(input, output) tokens from an LLMResult: the message's usage_metadata, else llm_output."""
    for generations in getattr(response, "generations", None) or []:
        for gen in generations:
            meta = getattr(getattr(gen, "message", None), "usage_metadata", None)
            if meta:
                return int(meta.get("input_tokens", 0)), int(meta.get("output_tokens", 0))
    usage = (getattr(response, "llm_output", None) or {}).get("token_usage") or {}
    if usage:
        return int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    return None


_handler = OtelCallbackHandler()


def _manager_init(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> None:
    wrapped(*args, **kwargs)
    if not any(isinstance(h, OtelCallbackHandler) for h in instance.inheritable_handlers):
        instance.add_handler(_handler, True)


class LangChainInstrumentor(BaseInstrumentor):
    """Adds agent-otel's callback handler to every LangChain callback manager."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        _handler.recorder = recorder_for(kwargs)
        wrapt.wrap_function_wrapper("langchain_core.callbacks", "BaseCallbackManager.__init__", _manager_init)

    def _uninstrument(self, **kwargs: Any) -> None:
        import langchain_core.callbacks

        unwrap(langchain_core.callbacks.BaseCallbackManager, "__init__")
        _handler.recorder = default_recorder
