"""instrument() with no names: what is installed is instrumented, what is not is skipped before import."""

from __future__ import annotations

import sys

import onnxruntime.capi.onnxruntime_inference_collection as ort_collection

import agent_otel.instrumentation as registry
import agent_otel.instrumentation.langchain.package as langchain_package


def test_missing_library_is_skipped_without_importing_its_instrumentor(monkeypatch):
    monkeypatch.setattr(registry, "INSTRUMENTORS", {k: registry.INSTRUMENTORS[k] for k in ("onnxruntime", "langchain")})
    monkeypatch.setattr(langchain_package, "_instruments", ("no-such-distribution >= 1",))  # as if not installed
    monkeypatch.delitem(sys.modules, "agent_otel.instrumentation.langchain", raising=False)
    original = ort_collection.Session.run
    try:
        assert registry.instrument() == ["onnxruntime"]
        assert "agent_otel.instrumentation.langchain" not in sys.modules
        assert ort_collection.Session.run is not original
    finally:
        registry.uninstrument()
    assert ort_collection.Session.run is original
    assert "no-such-distribution" in str(registry.missing("langchain"))
