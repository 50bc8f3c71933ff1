"""agent-otel: OpenTelemetry for AI agents: one decorator, one `configure()` call."""

from __future__ import annotations

__version__ = "0.1.0"
