"""`record_usage`: token counts of the current model call, on its span and as the token metric."""

from __future__ import annotations

from opentelemetry import trace

from agent_otel import semconv
from agent_otel._guard import report_internal_error
from agent_otel.recorder import default_recorder


def record_usage(
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    *,
    model: str | None = None,
    cache_read_tokens: int | None = None,
) -> None:
    """Record token use for the model call in progress (call it inside an `@llm` function).

    `model` is the response model when the provider reports one (e.g. `gpt-4o-2024-08-06`).
    Several calls in one span add up. Never raises: bad values are counted as internal errors and skipped.
    """
    try:
        span = trace.get_current_span()
        span_attrs = dict(getattr(span, "attributes", None) or {})
        span_attrs.setdefault(semconv.GEN_AI_OPERATION_NAME, semconv.OP_CHAT)
        if model:
            span.set_attribute(semconv.GEN_AI_RESPONSE_MODEL, model)
            span_attrs[semconv.GEN_AI_RESPONSE_MODEL] = model
        default_recorder().usage(span, span_attrs, input_tokens, output_tokens, cache_read_tokens=cache_read_tokens, add=True)
    except Exception as internal:  # noqa: BLE001
        report_internal_error("record_usage", internal)
