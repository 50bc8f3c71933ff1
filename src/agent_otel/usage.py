"""`record_usage`: token counts of the current model call, on its span and as the token metric."""

from __future__ import annotations

from opentelemetry import trace

from agent_otel import semconv
from agent_otel._guard import report_internal_error
from agent_otel.instruments import record, token_usage

_METRIC_KEYS = (semconv.GEN_AI_OPERATION_NAME, semconv.GEN_AI_PROVIDER_NAME, semconv.GEN_AI_REQUEST_MODEL)


def record_usage(
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    *,
    model: str | None = None,
) -> None:
    """Record token use for the model call in progress (call it inside an `@llm` function).

    `model` is the response model when the provider reports one (e.g. `gpt-4o-2024-08-06`).
    Never raises: bad values are counted as internal errors and skipped.
    """
    try:
        span = trace.get_current_span()
        span_attrs = getattr(span, "attributes", None) or {}
        attrs = {k: span_attrs[k] for k in _METRIC_KEYS if k in span_attrs}
        attrs.setdefault(semconv.GEN_AI_OPERATION_NAME, semconv.OP_CHAT)
        if model:
            span.set_attribute(semconv.GEN_AI_RESPONSE_MODEL, model)
            attrs[semconv.GEN_AI_RESPONSE_MODEL] = model
        histogram = (token_usage(),)
        for key, token_type, value in (
            (semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.TOKEN_TYPE_INPUT, input_tokens),
            (semconv.GEN_AI_USAGE_OUTPUT_TOKENS, semconv.TOKEN_TYPE_OUTPUT, output_tokens),
        ):
            if value is None:
                continue
            count = int(value)
            if count < 0:
                raise ValueError(f"{key} must not be negative, got {value!r}")
            previous = span_attrs.get(key, 0) if isinstance(span_attrs.get(key), int) else 0
            span.set_attribute(key, previous + count)  # several calls in one span add up
            record(histogram, count, {**attrs, semconv.GEN_AI_TOKEN_TYPE: token_type})
    except Exception as internal:  # noqa: BLE001
        report_internal_error("record_usage", internal)
