"""Auto-instrumentation: one BaseInstrumentor per library, also reachable by name from code.

The instrumentors are registered under the `opentelemetry_instrumentor` entry point, so
`opentelemetry-instrument python app.py` picks them up; `agent_otel.instrument([...])` or
`configure(instrument=[...])` does the same from code.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

_logger = logging.getLogger("agent_otel.instrumentation")

INSTRUMENTORS: dict[str, str] = {
    "onnxruntime": "agent_otel.instrumentation.onnxruntime:OnnxRuntimeInstrumentor",
    "openai": "agent_otel.instrumentation.openai:OpenAIInstrumentor",
    "anthropic": "agent_otel.instrumentation.anthropic:AnthropicInstrumentor",
    "langchain": "agent_otel.instrumentation.langchain:LangChainInstrumentor",
    "openai_agents": "agent_otel.instrumentation.openai_agents:OpenAIAgentsInstrumentor",
}


def instrumentor(name: str) -> Any:
    if name not in INSTRUMENTORS:
        raise ValueError(f"instrument: unknown library {name!r}; known: {', '.join(INSTRUMENTORS)}")
    module, cls = INSTRUMENTORS[name].split(":")
    return getattr(importlib.import_module(module), cls)()


def instrument(names: list[str] | None = None, **kwargs: Any) -> list[str]:
    """Instrument the named libraries (default: every one that is installed); returns the names done."""
    done = []
    for name in names or list(INSTRUMENTORS):
        inst = instrumentor(name)
        conflict = inst.instrumentation_dependencies() and _missing(inst)
        if conflict:
            if names:
                raise ValueError(f"instrument {name!r}: {conflict}")
            continue
        inst.instrument(**kwargs)
        done.append(name)
    return done


def uninstrument(names: list[str] | None = None) -> None:
    for name in names or list(INSTRUMENTORS):
        inst = instrumentor(name)
        if inst.is_instrumented_by_opentelemetry:
            inst.uninstrument()


def _missing(inst: Any) -> str | None:
    from opentelemetry.instrumentation.dependencies import get_dependency_conflicts

    conflict = get_dependency_conflicts(inst.instrumentation_dependencies())
    return str(conflict) if conflict else None
