"""OpenAI Agents SDK: its own traces mapped onto OpenTelemetry spans through a TracingProcessor.

trace -> `invoke_workflow {name}`; agent span -> `invoke_agent {name}`; function span ->
`execute_tool {name}`; generation/response span -> `chat {model}` with token usage; handoffs,
guardrails and other spans -> steps named by their type. Parentage follows the SDK's
`parent_id`; the workflow span parents on the context current when the run started, so a run
inside a decorated agent nests under it. The SDK's other processors are left as they are.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from agent_otel import semconv
from agent_otel._guard import report_internal_error
from agent_otel.instrumentation.openai_agents.package import _instruments
from agent_otel.recorder import default_recorder, make_spec, recorder_for


def _spec_for(data: Any) -> tuple[Any, tuple[int, int] | None]:
    kind = getattr(data, "type", "custom")
    if kind == "agent":
        return make_spec(semconv.KIND_AGENT, data.name, {}), None
    if kind == "function":
        return make_spec(semconv.KIND_TOOL, data.name, {}), None
    if kind in ("generation", "response"):
        model = getattr(data, "model", None)
        usage = getattr(data, "usage", None)
        response = getattr(data, "response", None)
        if response is not None:
            model = model or getattr(response, "model", None)
            u = getattr(response, "usage", None)
            usage = {"input_tokens": getattr(u, "input_tokens", 0), "output_tokens": getattr(u, "output_tokens", 0)} if u else None
        tokens = (int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)) if usage else None
        return make_spec(semconv.KIND_LLM, None, {"model": model, "provider": "openai"}), tokens
    if kind == "handoff":
        name = f"{getattr(data, 'from_agent', None) or ''} -> {getattr(data, 'to_agent', None) or ''}".strip()
    else:
        name = getattr(data, "name", None) or kind
    return make_spec(semconv.KIND_STEP, f"{kind} {name}" if name != kind else kind, {"attributes": {"openai_agents.span_type": kind}}), None


class OtelTracingProcessor:
    """Receives the Agents SDK's traces and spans; opens and ends OpenTelemetry spans for them."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[Any, Any, float, Any, Any]] = {}  # spec, span, t0, its context, recorder
        self.recorder = default_recorder

    def _begin(self, key: str, spec: Any, ctx: Any) -> None:
        rec = self.recorder()
        span, span_ctx, _token, t0 = rec.begin(spec, context=ctx, attach=False)
        self._open[key] = (spec, span, t0, span_ctx, rec)

    def on_trace_start(self, t: Any) -> None:
        try:
            self._begin(t.trace_id, make_spec(semconv.KIND_WORKFLOW, t.name, {}), otel_context.get_current())
        except Exception as exc:  # noqa: BLE001
            report_internal_error("openai_agents.trace_start", exc)

    def on_trace_end(self, t: Any) -> None:
        entry = self._open.pop(t.trace_id, None)
        if entry:
            entry[4].end(entry[0], entry[1], None, entry[2], None)

    def on_span_start(self, s: Any) -> None:
        try:
            parent = self._open.get(s.parent_id or s.trace_id)
            ctx = parent[3] if parent else otel_context.get_current()
            spec, _ = _spec_for(s.span_data)
            self._begin(s.span_id, spec, ctx)
        except Exception as exc:  # noqa: BLE001
            report_internal_error("openai_agents.span_start", exc)

    def on_span_end(self, s: Any) -> None:
        entry = self._open.pop(s.span_id, None)
        if not entry:
            return
        spec, span, t0, _ctx, rec = entry
        error = None
        try:
            _, tokens = _spec_for(s.span_data)
            if tokens:
                rec.usage(span, spec.conv_metric_attrs, tokens[0], tokens[1])
            if s.error:
                error = RuntimeError(str(s.error.get("message") if isinstance(s.error, dict) else s.error))
        except Exception as exc:  # noqa: BLE001
            report_internal_error("openai_agents.span_end", exc)
        rec.end(spec, span, None, t0, error)

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


_processor = OtelTracingProcessor()


class OpenAIAgentsInstrumentor(BaseInstrumentor):
    """Registers agent-otel's processor with the Agents SDK's trace provider."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        from agents import add_trace_processor

        _processor.recorder = recorder_for(kwargs)
        add_trace_processor(_processor)

    def _uninstrument(self, **kwargs: Any) -> None:
        from agents.tracing import get_trace_provider

        provider = get_trace_provider()
        multi = getattr(provider, "_multi_processor", None)
        processors = getattr(multi, "_processors", None)
        if processors is not None and _processor in processors:
            multi._processors = tuple(p for p in processors if p is not _processor)
