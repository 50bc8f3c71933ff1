"""OpenAI Agents SDK handoffs as OpenTelemetry spans, beside whichever instrumentation records its agents.

The official `opentelemetry-instrumentation-genai-openai-agents` turns the SDK's agent and function
spans into `invoke_agent` / `execute_tool` spans and ignores its handoff spans ("no semconv yet").
This adds them, through the SDK's public trace-processor API (`agents.tracing.add_trace_processor`),
in the shape `agent_otel.handoff` uses: a handoff is the tool call the model made,
`execute_tool transfer_to_{agent}` (`gen_ai.tool.name`, `gen_ai.agent.name` = the agent handing off,
`agent_otel.handoff.to`), a child of the current span — the handing-off agent's — so it sits in
the run's one trace; the receiving agent's span, when it is current as its SDK span starts (the
official processor registered first), gets `agent_otel.handoff.from`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.trace import Span

from agent_otel import __version__, semconv
from agent_otel._guard import report_internal_error
from agent_otel.instrumentation.openai_agents_handoffs.package import _instruments
from agent_otel.recorder import SCOPE


def _tool_name(to_agent: str | None) -> str:
    return f"transfer_to_{to_agent or 'agent'}"


class HandoffProcessor:
    """An Agents SDK `TracingProcessor`: handoff spans become `execute_tool transfer_to_{agent}` spans."""

    def __init__(self, tracer_provider: Any = None) -> None:
        self._tp = tracer_provider
        self._open: dict[str, Span] = {}
        self._pending: dict[str, tuple[str, str]] = {}  # SDK trace id -> (from agent, to agent)
        self.enabled = True

    def _tracer(self) -> Any:
        return trace.get_tracer(SCOPE, __version__, self._tp, schema_url=semconv.schema_url())

    def on_trace_start(self, trace_: Any) -> None:
        pass

    def on_trace_end(self, trace_: Any) -> None:
        self._pending.pop(getattr(trace_, "trace_id", ""), None)

    def on_span_start(self, span: Any) -> None:
        if not self.enabled:
            return
        try:
            from agents.tracing.span_data import AgentSpanData, HandoffSpanData

            data = span.span_data
            if isinstance(data, HandoffSpanData):
                attrs = {semconv.AGENT_OTEL_KIND: semconv.KIND_TOOL, semconv.GEN_AI_OPERATION_NAME: semconv.OP_EXECUTE_TOOL,
                         semconv.GEN_AI_TOOL_TYPE: "function"}
                if data.from_agent:
                    attrs[semconv.GEN_AI_AGENT_NAME] = data.from_agent
                self._open[span.span_id] = self._tracer().start_span(_tool_name(data.to_agent), attributes=attrs)
            elif isinstance(data, AgentSpanData):
                pending = self._pending.pop(span.trace_id, None)
                current = trace.get_current_span()
                if pending and pending[1] == data.name and (getattr(current, "attributes", None) or {}).get(semconv.GEN_AI_AGENT_NAME) == data.name:
                    current.set_attribute(semconv.AGENT_OTEL_HANDOFF_FROM, pending[0])
        except Exception as internal:  # noqa: BLE001
            report_internal_error("openai_agents_handoffs.start", internal)

    def on_span_end(self, span: Any) -> None:
        otel = self._open.pop(getattr(span, "span_id", None), None)
        if otel is None:
            return
        try:
            data = span.span_data
            name = _tool_name(data.to_agent)
            otel.update_name(f"{semconv.OP_EXECUTE_TOOL} {name}")
            otel.set_attributes({semconv.GEN_AI_TOOL_NAME: name, semconv.AGENT_OTEL_NAME: name,
                                 **({semconv.AGENT_OTEL_HANDOFF_TO: data.to_agent} if data.to_agent else {})})
            if data.to_agent:
                self._pending[span.trace_id] = (data.from_agent or "unknown", data.to_agent)
            otel.end()
        except Exception as internal:  # noqa: BLE001
            report_internal_error("openai_agents_handoffs.end", internal)

    def shutdown(self) -> None:
        for otel in self._open.values():
            otel.end()
        self._open.clear()

    def force_flush(self) -> None:
        pass


class OpenAIAgentsHandoffInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Registers `HandoffProcessor` with the Agents SDK (`instrument(tracer_provider=...)`)."""

    _processor: HandoffProcessor | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        from agents.tracing import add_trace_processor

        if OpenAIAgentsHandoffInstrumentor._processor is None:
            OpenAIAgentsHandoffInstrumentor._processor = HandoffProcessor(kwargs.get("tracer_provider"))
            add_trace_processor(OpenAIAgentsHandoffInstrumentor._processor)
        else:
            OpenAIAgentsHandoffInstrumentor._processor._tp = kwargs.get("tracer_provider")
            OpenAIAgentsHandoffInstrumentor._processor.enabled = True

    def _uninstrument(self, **kwargs: Any) -> None:
        if OpenAIAgentsHandoffInstrumentor._processor is not None:  # the SDK has no remove: it stays, switched off
            OpenAIAgentsHandoffInstrumentor._processor.enabled = False
