"""LangGraph multi-agent handoffs (`Command(goto=...)`) recorded the way `agent_otel.handoff` records one.

The official `opentelemetry-instrumentation-genai-langchain` already keeps a LangGraph run in one
trace: the graph is `invoke_workflow`, each `create_agent` graph an `invoke_agent` span, a handoff
tool (LangGraph's pattern: a tool returning `Command(goto="billing", graph=Command.PARENT)`, as
langgraph-supervisor's and langgraph-swarm's `create_handoff_tool` make) an `execute_tool
transfer_to_billing` span under the calling agent, and the receiving agent a sibling in the same
trace, so the critical path runs through both. What it does not say is that a handoff happened:
it sees the Command as an opaque tool result. This layer adds that, in the shape handoff.py uses:

- the tool span that returned the Command gets `agent_otel.handoff.to` (the `goto` node);
- a node that returns `Command(goto=...)` itself (no tool) counts as handing off too;
- the next `invoke_agent` span of the same trace whose agent is the `goto` target gets
  `agent_otel.handoff.from` (the agent, or node, that handed off).

How: the official handler's public callback methods (`OpenTelemetryLangChainCallbackHandler.on_tool_end`
and friends) are wrapped, so the Command is read just before that handler ends the tool span (a
handler of our own could run after it: LangChain does not order handlers), and a span processor
knows the open tool and agent spans and marks the receiving agent's span as it starts. So it works
with `instrument(["langchain", "langgraph_handoffs"])` together. Nothing here is written by hand
that LangChain or OpenTelemetry offer: neither has a handoff hook (semantic-conventions-genai #447).
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.sdk.trace import Span, SpanProcessor

from agent_otel import semconv
from agent_otel._guard import report_internal_error
from agent_otel.instrumentation.langgraph_handoffs.package import _instruments


def goto_targets(value: Any) -> list[str]:
    """Node names a LangGraph `Command` (or a list of them, as a tool node returns) sends control to."""
    try:
        from langgraph.types import Command, Send
    except ImportError:  # pragma: no cover - the instrumentor requires langgraph
        return []
    out: list[str] = []
    for cmd in value if isinstance(value, (list, tuple)) else [value]:
        if not isinstance(cmd, Command) or not cmd.goto:
            continue
        for g in cmd.goto if isinstance(cmd.goto, (list, tuple)) else [cmd.goto]:
            name = g.node if isinstance(g, Send) else g
            if isinstance(name, str) and name and not name.startswith("__"):
                out.append(name)
    return out


class HandoffSpans(SpanProcessor):
    """Open `execute_tool` spans by (trace, tool name), and handoffs waiting for their receiving agent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tools: dict[tuple[int, str], list[Span]] = {}
        self._pending: dict[int, dict[str, str]] = {}  # trace id -> {receiving agent/node: agent that handed off}
        self._agents: dict[int, str] = {}  # span id -> agent name, of the open invoke_agent spans

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        try:
            attrs = span.attributes or {}
            tid = span.context.trace_id
            if attrs.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OP_EXECUTE_TOOL and attrs.get(semconv.GEN_AI_TOOL_NAME):
                with self._lock:
                    self._tools.setdefault((tid, str(attrs[semconv.GEN_AI_TOOL_NAME])), []).append(span)
            elif attrs.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OP_INVOKE_AGENT:
                with self._lock:
                    self._agents[span.context.span_id] = str(attrs.get(semconv.GEN_AI_AGENT_NAME) or "")
                    source = self._pending.get(tid, {}).pop(str(attrs.get(semconv.GEN_AI_AGENT_NAME)), None)
                if source is not None:
                    span.set_attribute(semconv.AGENT_OTEL_HANDOFF_FROM, source)
        except Exception as internal:  # noqa: BLE001
            report_internal_error("langgraph_handoffs.on_start", internal)

    def on_end(self, span: Any) -> None:
        attrs = span.attributes or {}
        if attrs.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OP_INVOKE_AGENT:
            with self._lock:
                self._agents.pop(span.context.span_id, None)
        if attrs.get(semconv.GEN_AI_OPERATION_NAME) != semconv.OP_EXECUTE_TOOL:
            return
        with self._lock:
            key = (span.context.trace_id, str(attrs.get(semconv.GEN_AI_TOOL_NAME)))
            stack = self._tools.get(key)
            if stack:
                self._tools[key] = [s for s in stack if s.context.span_id != span.context.span_id]
                if not self._tools[key]:
                    del self._tools[key]

    def agent_of(self, span: Any) -> str | None:
        """The agent whose open invoke_agent span is `span`'s parent, if any."""
        parent = getattr(span, "parent", None)
        with self._lock:
            return self._agents.get(parent.span_id) if parent is not None else None

    def agent_name(self, span: Any) -> str | None:
        """The agent name of `span` when it is an open invoke_agent span."""
        with self._lock:
            return self._agents.get(span.get_span_context().span_id) or None

    def open_tool(self, trace_id: int, name: str) -> Span | None:
        """The open tool span of that name in that trace (the latest started); when the callback runs
        outside the run's context (an async manager's executor), the latest open one of that name."""
        with self._lock:
            stack = self._tools.get((trace_id, name))
            if not stack:
                stack = [s for (_t, n), spans in self._tools.items() if n == name for s in spans]
                stack.sort(key=lambda s: s.start_time or 0)
            return stack[-1] if stack else None

    def expect(self, trace_id: int, targets: list[str], source: str, *, replace: bool) -> None:
        with self._lock:
            pending = self._pending.setdefault(trace_id, {})
            for t in targets:
                if replace or t not in pending:
                    pending[t] = source
            if len(self._pending) > 10_000:  # handoffs whose receiver never started: forget the oldest
                self._pending.pop(next(iter(self._pending)))

    def clear(self) -> None:
        with self._lock:
            self._tools.clear()
            self._pending.clear()
            self._agents.clear()


class Handoffs:
    """What the official LangChain handler's callbacks see, read just before it handles them (wrapped
    methods): each tool's and LangGraph node's result; a `Command(goto=...)` there is a handoff."""

    def __init__(self, spans: HandoffSpans) -> None:
        self.spans = spans
        self.enabled = True
        self._lock = threading.Lock()
        self._runs: dict[Any, str] = {}  # run id -> "tool:<name>" or "node:<name>"

    def tool_start(self, serialized: Any, kw: dict[str, Any]) -> None:
        name = (serialized or {}).get("name") if isinstance(serialized, dict) else None
        if kw.get("run_id") is not None:
            with self._lock:
                self._runs[kw["run_id"]] = "tool:" + str(name or kw.get("name") or "")

    def chain_start(self, kw: dict[str, Any]) -> None:
        node = (kw.get("metadata") or {}).get("langgraph_node")
        if node and kw.get("name") == node and kw.get("run_id") is not None:  # the node's own run, not a runnable inside it
            with self._lock:
                self._runs[kw["run_id"]] = "node:" + str(node)

    def _run(self, kw: dict[str, Any]) -> str | None:
        with self._lock:
            return self._runs.pop(kw.get("run_id"), None)

    def tool_end(self, output: Any, kw: dict[str, Any]) -> None:
        run = self._run(kw)
        targets = goto_targets(output) if run else []
        if not targets:
            return
        tool = self.spans.open_tool(trace.get_current_span().get_span_context().trace_id, run[5:])  # type: ignore[index]
        if tool is None:
            return
        tool.set_attribute(semconv.AGENT_OTEL_HANDOFF_TO, targets[0])
        source = (tool.attributes or {}).get(semconv.GEN_AI_AGENT_NAME) or self.spans.agent_of(tool)
        self.spans.expect(tool.context.trace_id, targets, str(source or "unknown"), replace=True)

    def chain_end(self, outputs: Any, kw: dict[str, Any]) -> None:
        run = self._run(kw)
        targets = goto_targets(outputs) if run else []
        if targets:
            current = trace.get_current_span()
            source = self.spans.agent_name(current) or run[5:]  # type: ignore[index]
            self.spans.expect(current.get_span_context().trace_id, targets, str(source), replace=False)  # a tool's handoff wins

    def forget(self, kw: dict[str, Any]) -> None:
        self._run(kw)


HANDLER = ("opentelemetry.instrumentation.genai.langchain.callback_handler", "OpenTelemetryLangChainCallbackHandler")
METHODS = ("on_tool_start", "on_tool_end", "on_tool_error", "on_chain_start", "on_chain_end", "on_chain_error")


class LangGraphHandoffInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Wraps the official LangChain handler's tool and chain callbacks, and adds the span processor to the tracer provider."""

    _handoffs: Handoffs | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        from wrapt import wrap_function_wrapper

        cls = LangGraphHandoffInstrumentor
        if cls._handoffs is None:
            spans = HandoffSpans()
            provider = kwargs.get("tracer_provider") or trace.get_tracer_provider()
            if not hasattr(provider, "add_span_processor"):
                raise RuntimeError("langgraph_handoffs: the tracer provider takes no span processor (configure() first)")
            provider.add_span_processor(spans)
            cls._handoffs = Handoffs(spans)
        cls._handoffs.enabled = True
        handoffs = cls._handoffs

        def before(method: str) -> Any:
            def wrapper(wrapped: Any, instance: Any, args: Any, kw: Any) -> Any:
                if handoffs.enabled:
                    try:
                        if method == "on_tool_start":
                            handoffs.tool_start(args[0] if args else kw.get("serialized"), kw)
                        elif method == "on_chain_start":
                            handoffs.chain_start(kw)
                        elif method == "on_tool_end":
                            handoffs.tool_end(args[0] if args else kw.get("output"), kw)
                        elif method == "on_chain_end":
                            handoffs.chain_end(args[0] if args else kw.get("outputs"), kw)
                        else:
                            handoffs.forget(kw)
                    except Exception as internal:  # noqa: BLE001
                        report_internal_error(f"langgraph_handoffs.{method}", internal)
                return wrapped(*args, **kw)

            return wrapper

        for method in METHODS:
            wrap_function_wrapper(HANDLER[0], f"{HANDLER[1]}.{method}", before(method))

    def _uninstrument(self, **kwargs: Any) -> None:
        import importlib

        from opentelemetry.instrumentation.utils import unwrap

        handler = getattr(importlib.import_module(HANDLER[0]), HANDLER[1])
        for method in METHODS:
            unwrap(handler, method)
        if LangGraphHandoffInstrumentor._handoffs is not None:
            LangGraphHandoffInstrumentor._handoffs.enabled = False
            LangGraphHandoffInstrumentor._handoffs.spans.clear()
