_instruments = ("anthropic >= 0.51.0, < 3", "opentelemetry-instrumentation-genai-anthropic >= 1.3b0")
