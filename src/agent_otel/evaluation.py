"""`record_evaluation`: a score for an agent's or a model's output as the `gen_ai.evaluation.result` event.

    agent_otel.record_evaluation("relevance", score=0.82, label="pass", explanation="cites the doc")

The event (model/gen-ai/events.yaml of semantic-conventions-genai) is a log record parented to the
evaluated span — the current one, or `span=` / `span_context=` for an evaluation made after the run
(keep `agent_otel.current_span()` from the run). It carries `gen_ai.evaluation.name`,
`gen_ai.evaluation.score.value`, `gen_ai.evaluation.score.label`, `gen_ai.evaluation.explanation`
and `gen_ai.response.id` when known, plus the evaluated span's agent, model and operation (when
the span is readable) so a report groups scores per agent and model without a join. It goes
wherever logs go: the local store, Loki, any OTLP backend.
"""

from __future__ import annotations

import math
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext

from agent_otel import semconv
from agent_otel._guard import report_internal_error

EVENT_EVALUATION_RESULT = "gen_ai.evaluation.result"
EVALUATION_NAME = "gen_ai.evaluation.name"
EVALUATION_SCORE_VALUE = "gen_ai.evaluation.score.value"
EVALUATION_SCORE_LABEL = "gen_ai.evaluation.score.label"
EVALUATION_EXPLANATION = "gen_ai.evaluation.explanation"
# Attributes of the evaluated span copied onto the event (registry attributes; for grouping).
_FROM_SPAN = (semconv.GEN_AI_AGENT_NAME, semconv.GEN_AI_REQUEST_MODEL, semconv.GEN_AI_RESPONSE_MODEL,
              semconv.GEN_AI_OPERATION_NAME, semconv.GEN_AI_RESPONSE_ID, semconv.GEN_AI_CONVERSATION_ID)


def _check(name: Any, score: Any, label: Any) -> float | None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"record_evaluation: name must be a non-empty string, got {name!r}")
    if "." in name:
        raise ValueError(f"record_evaluation: name {name!r} must not contain '.' (alert figures read evaluation.<name>.mean)")
    if score is None and label is None:
        raise ValueError(f"record_evaluation({name!r}): give a score, a label or both")
    if score is None:
        return None
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(float(score)):
        raise ValueError(f"record_evaluation({name!r}): score must be a finite number, got {score!r}")
    return float(score)


def record_evaluation(
    name: str,
    *,
    score: float | None = None,
    label: str | None = None,
    explanation: str | None = None,
    response_id: str | None = None,
    span: Span | None = None,
    span_context: SpanContext | None = None,
    attributes: dict[str, Any] | None = None,
) -> None:
    """Emit one `gen_ai.evaluation.result` event tied to the evaluated span (default: the current span).

    A wrong argument (no name, no score and no label, a non-numeric score) raises ValueError: it is
    the caller's mistake, named. Anything failing inside agent-otel is logged once and counted.
    """
    value = _check(name, score, label)
    try:
        target = span if span is not None else (NonRecordingSpan(span_context) if span_context is not None else trace.get_current_span())
        attrs: dict[str, Any] = {}
        span_attrs = getattr(target, "attributes", None) or {}
        for key in _FROM_SPAN:
            if span_attrs.get(key) is not None:
                attrs[key] = span_attrs[key]
        attrs.update(attributes or {})
        attrs[EVALUATION_NAME] = name
        if value is not None:
            attrs[EVALUATION_SCORE_VALUE] = value
        if label is not None:
            attrs[EVALUATION_SCORE_LABEL] = str(label)
        if explanation is not None:
            attrs[EVALUATION_EXPLANATION] = str(explanation)
        if response_id is not None:
            attrs[semconv.GEN_AI_RESPONSE_ID] = str(response_id)
        from agent_otel.recorder import default_recorder

        body = f"{name}: " + " ".join(p for p in (f"score={value:g}" if value is not None else "", f"label={label}" if label is not None else "") if p)
        default_recorder()._event_logger().emit(
            LogRecord(event_name=EVENT_EVALUATION_RESULT, attributes=attrs, body=body, severity_number=SeverityNumber.INFO,
                      severity_text="INFO", context=trace.set_span_in_context(target))
        )
    except Exception as internal:  # noqa: BLE001
        report_internal_error("evaluation.record", internal)
