_instruments = ("langgraph >= 0.3", "opentelemetry-instrumentation-genai-langchain >= 1.3b0")
