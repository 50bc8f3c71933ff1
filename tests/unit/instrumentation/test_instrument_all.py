"""instrument() with no names: what is installed is instrumented, what is not is skipped before import."""

from __future__ import annotations

import dataclasses
import sys

import onnxruntime.capi.onnxruntime_inference_collection as ort_collection

import agent_otel.instrumentation as registry
from agent_otel.instrumentation.registry import OFFICIAL


def test_missing_library_is_skipped_without_importing_its_instrumentor(monkeypatch):
    monkeypatch.setattr(registry, "INSTRUMENTORS", {k: registry.INSTRUMENTORS[k] for k in ("onnxruntime", "langchain")})
    # as if LangChain were not installed: its official instrumentation is never imported
    monkeypatch.setitem(OFFICIAL, "langchain", dataclasses.replace(OFFICIAL["langchain"], requires=("no-such-distribution >= 1",)))
    monkeypatch.delitem(sys.modules, "opentelemetry.instrumentation.genai.langchain", raising=False)
    original = ort_collection.Session.run
    try:
        assert registry.instrument() == ["onnxruntime"]
        assert "opentelemetry.instrumentation.genai.langchain" not in sys.modules
        assert ort_collection.Session.run is not original
    finally:
        registry.uninstrument()
    assert ort_collection.Session.run is original
    assert "no-such-distribution" in str(registry.missing("langchain"))


def test_every_framework_resolves_to_its_official_instrumentation():
    """configure(instrument=[...]) / instrument([...]) enable the official instrumentor, and the
    distribution named in the registry is what registers it for `opentelemetry-instrument`."""
    from importlib.metadata import entry_points

    registered = {ep.value: ep.dist.name for ep in entry_points(group="opentelemetry_instrumentor") if ep.dist}
    for name in ("langchain", "openai_agents", "llama_index", "smolagents", "agno"):
        official = OFFICIAL[name]
        assert registry.missing(name) is None, name  # installed by the dev extra
        inst = registry.instrumentor(name)
        assert f"{type(inst).__module__}:{type(inst).__name__}" == official.instrumentor
        assert registered[official.instrumentor].replace("_", "-") == official.distribution
