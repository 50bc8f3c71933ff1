_instruments = ("openai >= 1.26.0, < 4", "opentelemetry-instrumentation-genai-openai >= 1.3b0")
