"""agent-otel: OpenTelemetry for AI agents: one decorator, one `configure()` call.

    import agent_otel
    agent_otel.configure(service_name="support-bot")

    @agent_otel.agent(name="planner")
    async def run(task): ...
"""

from __future__ import annotations

from agent_otel.version import __version__
from agent_otel.config import ConfigError, configure, force_flush, shutdown  # noqa: E402
from agent_otel.context import current_span, wrap_context  # noqa: E402
from agent_otel.decorators import Traced, agent, inference, llm, set_tool_call_id, step, tool, workflow  # noqa: E402
from agent_otel.errors import AgentOtelError  # noqa: E402
from agent_otel.usage import record_usage  # noqa: E402
from agent_otel.conversation import conversation  # noqa: E402
from agent_otel.evaluation import record_evaluation  # noqa: E402
from agent_otel.handoff import handoff  # noqa: E402


def instrument(names: list[str] | None = None, **kwargs: object) -> None:
    """Auto-instrument libraries by name (all installed ones when None); see docs/instrumentation.md."""
    from agent_otel.instrumentation import instrument as _instrument

    _instrument(names, **kwargs)


__all__ = [
    "AgentOtelError",
    "ConfigError",
    "Traced",
    "agent",
    "configure",
    "conversation",
    "current_span",
    "force_flush",
    "handoff",
    "inference",
    "instrument",
    "llm",
    "record_evaluation",
    "record_usage",
    "set_tool_call_id",
    "shutdown",
    "step",
    "tool",
    "workflow",
    "wrap_context",
]
