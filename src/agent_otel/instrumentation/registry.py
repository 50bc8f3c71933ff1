"""Which instrumentation agent-otel enables for a provider library: the official OpenTelemetry GenAI one.

agent-otel keeps no instrumentor of its own for these libraries. `instrument(["openai"])`,
`configure(instrument=[...])` and `opentelemetry-instrument` (through the official packages' own
`opentelemetry_instrumentor` entry points) all enable the instrumentation named here; the
distribution comes with agent-otel's extra of the same name (`pip install agent-otel[openai]`).

`requires` is checked with OpenTelemetry's own dependency check before anything is imported: the
official packages import their library as soon as they are imported.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Official:
    instrumentor: str  # "module:Class"
    distribution: str  # the official instrumentation's PyPI distribution
    tested: str  # the version agent-otel's tests ran against
    requires: tuple[str, ...]  # the library versions it supports (its package.py `_instruments`)
    adds: str = ""  # what agent-otel layers on top, if anything (docs/instrumentation.md)


OFFICIAL: dict[str, Official] = {
    # The official instrumentation, plus stream usage without `include_usage` (shown in a side-by-side test).
    "openai": Official("agent_otel.instrumentation.openai:OpenAIInstrumentor", "opentelemetry-instrumentation-genai-openai",
                       "1.3b0", ("openai >= 1.26.0, < 4",), adds="token usage of streams whose caller did not ask for include_usage"),
    # The official instrumentation; the SDK's own second call span skipped inside a recorded model call (side-by-side test).
    "anthropic": Official("agent_otel.instrumentation.anthropic:AnthropicInstrumentor",
                          "opentelemetry-instrumentation-genai-anthropic", "1.3b0", ("anthropic >= 0.51.0, < 3",),
                          adds="no second span (and no double-counted tokens) from the SDK's own tracing"),
    "bedrock": Official("opentelemetry.instrumentation.genai.bedrock:BedrockInstrumentor",
                        "opentelemetry-instrumentation-genai-bedrock", "1.3b0", ("boto3 >= 1.40.46, < 2",)),
    "google_genai": Official("opentelemetry.instrumentation.google_genai:GoogleGenAiSdkInstrumentor",
                             "opentelemetry-instrumentation-google-genai", "1.3b0", ("google-genai >= 1.32.0, < 3",)),
    # Frameworks. Over a provider instrumentation each model call stays one span: the framework's
    # model span is outermost and the provider's call inside it only enriches it (stacking.py).
    "langchain": Official("opentelemetry.instrumentation.genai.langchain:LangChainInstrumentor",
                          "opentelemetry-instrumentation-genai-langchain", "1.3b0", ("langchain >= 0.3.22, < 2",)),
    "openai_agents": Official("opentelemetry.instrumentation.genai.openai_agents:OpenAIAgentsInstrumentor",
                              "opentelemetry-instrumentation-genai-openai-agents", "1.3b0", ("openai-agents >= 0.3.3, < 1",)),
    "llama_index": Official("opentelemetry.instrumentation.genai.llama_index:LlamaIndexInstrumentor",
                            "opentelemetry-instrumentation-genai-llama-index", "1.3b0",
                            ("llama-index-core >= 0.14.19, < 1", "llama-index-instrumentation >= 0.4.3, < 1",
                             "llama-index-workflows >= 2.17.1, != 2.24.0, < 3")),
    "smolagents": Official("opentelemetry.instrumentation.genai.smolagents:SmolagentsInstrumentor",
                           "opentelemetry-instrumentation-genai-smolagents", "1.2b0", ("smolagents >= 1.24.0, < 2",)),
    "agno": Official("opentelemetry.instrumentation.genai.agno:AgnoInstrumentor",
                     "opentelemetry-instrumentation-genai-agno", "1.3b0", ("agno >= 2.0.0, < 4",)),
}


def requirements(name: str) -> tuple[str, ...]:
    """What must be installed for `name`'s official instrumentation to run: the instrumentation and the library."""
    o = OFFICIAL[name]
    return (f"{o.distribution} >= {o.tested}", *o.requires)
