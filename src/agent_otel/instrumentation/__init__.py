"""Auto-instrumentation: one BaseInstrumentor per library, also reachable by name from code.

Provider libraries (OpenAI, Anthropic, Bedrock, Google GenAI) get the official OpenTelemetry GenAI
instrumentation (table in registry.py). The instrumentors are registered under the `opentelemetry_instrumentor` entry point, so
`opentelemetry-instrument python app.py` picks them up; `agent_otel.instrument([...])` or
`configure(instrument=[...])` does the same from code.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from agent_otel.instrumentation.registry import OFFICIAL, requirements

_logger = logging.getLogger("agent_otel.instrumentation")

INSTRUMENTORS: dict[str, str] = {
    "onnxruntime": "agent_otel.instrumentation.onnxruntime:OnnxRuntimeInstrumentor",
    **{name: official.instrumentor for name, official in OFFICIAL.items()},
    "mcp": "agent_otel.instrumentation.mcp:MCPInstrumentor",
    "openai_agents_handoffs": "agent_otel.instrumentation.openai_agents_handoffs:OpenAIAgentsHandoffInstrumentor",
    "langgraph_handoffs": "agent_otel.instrumentation.langgraph_handoffs:LangGraphHandoffInstrumentor",
}


def _known(name: str) -> None:
    if name not in INSTRUMENTORS:
        raise ValueError(f"instrument: unknown library {name!r}; known: {', '.join(INSTRUMENTORS)}")


def instrumentor(name: str) -> Any:
    _known(name)
    module, cls = INSTRUMENTORS[name].split(":")
    return getattr(importlib.import_module(module), cls)()


def missing(name: str) -> str | None:
    """Why `name`'s library cannot be instrumented (not installed, wrong version), or None.

    Read from the instrumentor's `package.py` before its module (which imports the library) is
    imported, as BaseInstrumentor's own dependency check does.
    """
    from opentelemetry.instrumentation.dependencies import get_dependency_conflicts

    _known(name)
    if name in OFFICIAL:
        conflict = get_dependency_conflicts(list(requirements(name)))
        return f"{conflict} (pip install 'agent-otel[{name}]')" if conflict else None
    package = importlib.import_module(INSTRUMENTORS[name].split(":")[0] + ".package")
    conflict = get_dependency_conflicts(package._instruments)
    return str(conflict) if conflict else None


def instrument(names: list[str] | None = None, **kwargs: Any) -> list[str]:
    """Instrument the named libraries (default: every one that is installed, the rest skipped); returns the names done.

    kwargs go to each instrumentor: tracer_provider, meter_provider, logger_provider.
    """
    done = []
    for name in names or list(INSTRUMENTORS):
        conflict = missing(name)
        if conflict:
            if names:
                raise ValueError(f"instrument {name!r}: {conflict}")
            _logger.debug("agent-otel: not instrumenting %s: %s", name, conflict)
            continue
        inst = instrumentor(name)
        if not inst.is_instrumented_by_opentelemetry:
            inst.instrument(**kwargs)
        done.append(name)
    return done


def uninstrument(names: list[str] | None = None) -> None:
    """Undo `instrument()`: every wrapped method is restored."""
    for name in names or list(INSTRUMENTORS):
        if missing(name):
            continue
        inst = instrumentor(name)
        if inst.is_instrumented_by_opentelemetry:
            inst.uninstrument()
