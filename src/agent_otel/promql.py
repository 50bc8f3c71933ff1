"""Label selectors for PromQL (and LogQL stream selectors, which share the syntax): the one place
that quotes a label value, so a service or tool name with a quote or backslash cannot break a query.

Used by the push-down report, the stack source's resource figures and the alert rule export.
"""

from __future__ import annotations

from collections.abc import Mapping


def quote(value: str) -> str:
    """A PromQL string literal: double quotes, with backslashes, quotes and newlines escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def selector(equals: Mapping[str, str | None] | None = None, *matchers: str) -> str:
    """`{label="value", ..., <matchers>}`: an equality matcher per label whose value is not None,
    then the raw `matchers` as they are (`error_type!=""`, `agent_otel_kind=~"agent|workflow"`)."""
    parts = [f"{k}={quote(v)}" for k, v in (equals or {}).items() if v is not None]
    return "{" + ", ".join([*parts, *matchers]) + "}"
