"""The analyzer: performance reports, baselines and recommendations from any telemetry source."""

from agent_otel.analyzer.model import SCHEMA, SCHEMA_VERSION, Report
from agent_otel.analyzer.report import Baseline, build_report
from agent_otel.analyzer.sources import open_source
from agent_otel.analyzer.sources.base import SourceError

__all__ = ["SCHEMA", "SCHEMA_VERSION", "Baseline", "Report", "SourceError", "build_report", "open_source"]
