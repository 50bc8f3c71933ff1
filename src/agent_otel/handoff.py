"""Handoffs between agents: `with agent_otel.handoff("billing"): await billing_agent(task)`.

A handoff is recorded the way the OpenAI Agents SDK presents it to the model and its official
instrumentation records it: a tool call `execute_tool transfer_to_{agent}` of the handing-off agent
(`gen_ai.tool.name`, `gen_ai.agent.name` = the caller, `agent_otel.handoff.to` = the receiver).
The receiving agent runs inside it, so its `invoke_agent` span is a child in the caller's trace
(never a new trace; the critical path crosses the handoff), and carries
`agent_otel.handoff.from` = the agent that handed off. `handoff(...)` is also a decorator.
The conventions have no handoff attribute yet (semantic-conventions-genai #447): the two
`agent_otel.handoff.*` names live in semconv.py so adopting one is one edit.
"""

from __future__ import annotations

from typing import Any

from agent_otel import semconv


def handoff(to_agent: str, *, description: str | None = None, attributes: dict[str, Any] | None = None) -> Any:
    """The handoff to `to_agent`: a `transfer_to_{to_agent}` tool span (a `Traced`); run the receiving agent inside it."""
    from agent_otel.decorators import Traced  # the recorder imports this module

    if not isinstance(to_agent, str) or not to_agent.strip():
        raise ValueError(f"handoff: to_agent must be a non-empty agent name, got {to_agent!r}")
    opts: dict[str, Any] = {"attributes": {**(attributes or {}), semconv.AGENT_OTEL_HANDOFF_TO: to_agent}}
    if description:
        opts["description"] = description
    return Traced(semconv.KIND_TOOL, f"transfer_to_{to_agent}", opts)


def mark_receiving_agent(span: Any, parent: Any) -> None:
    """On an agent span starting: when its parent span is a handoff, name the agent that handed off (the recorder's hook)."""
    attrs = getattr(parent, "attributes", None)
    if attrs and semconv.AGENT_OTEL_HANDOFF_TO in attrs:
        span.set_attribute(semconv.AGENT_OTEL_HANDOFF_FROM, attrs.get(semconv.GEN_AI_AGENT_NAME) or "unknown")
