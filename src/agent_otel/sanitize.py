"""Turn any user-supplied attribute value into one OpenTelemetry accepts, or drop it, counted.

The SDK itself drops invalid attribute values with a log line; we convert what can be converted
(so a user's `attributes={"cfg": {...}}` still shows up) and count what can't, so nothing is
silently lost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.util.types import AttributeValue

from agent_otel import semconv
from agent_otel.self_counters import SelfCounter

MAX_STRING = 8192
_PRIMITIVES = (bool, str, int, float)
DROPPED = SelfCounter(semconv.METRIC_DROPPED, "{item}", "Telemetry items or attributes agent-otel dropped or rewrote, by reason.")


def count_dropped(reason: str, n: int = 1) -> None:
    DROPPED.tally(reason, n)
    DROPPED.export(n, {"agent_otel.reason": reason})


def _clean_str(value: str) -> str:
    if len(value) > MAX_STRING:
        count_dropped("truncated")
        value = value[:MAX_STRING]
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        count_dropped("invalid_utf8")
        value = value.encode("utf-8", errors="replace").decode("utf-8")
    return value


def _clean_scalar(value: Any) -> AttributeValue | None:
    if isinstance(value, str):
        return _clean_str(value)
    if isinstance(value, bool) or isinstance(value, int):
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            count_dropped("int_overflow")
            return str(value)
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            count_dropped("non_finite")
            return str(value)
        return value
    if isinstance(value, (bytes, bytearray)):
        count_dropped("bytes")
        return _clean_str(bytes(value).decode("utf-8", errors="replace"))
    return None


def clean_value(value: Any) -> AttributeValue | None:
    """A valid attribute value for `value`, or None when it must be dropped."""
    if value is None:
        count_dropped("none")
        return None
    scalar = _clean_scalar(value)
    if scalar is not None:
        return scalar
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        items = [_clean_scalar(v) for v in value]
        if all(i is not None for i in items):
            kinds = {type(i) for i in items}
            if len(kinds) <= 1:
                return items  # type: ignore[return-value]
        count_dropped("stringified")
        return _stringify(value)
    count_dropped("stringified")
    return _stringify(value)


def _stringify(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a user's __repr__ may raise anything
        count_dropped("unrepresentable")
        text = f"<{type(value).__qualname__}>"
    return _clean_str(text)


def clean_attributes(attributes: Mapping[str, Any] | None) -> dict[str, AttributeValue]:
    """Sanitised copy of a user's attribute mapping: bad keys and None values dropped, counted."""
    out: dict[str, AttributeValue] = {}
    if not attributes:
        return out
    for key, value in attributes.items():
        if not isinstance(key, str) or not key:
            count_dropped("invalid_key")
            continue
        cleaned = clean_value(value)
        if cleaned is not None:
            out[key] = cleaned
    return out
