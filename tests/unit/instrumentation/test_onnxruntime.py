"""onnxruntime runs of a real model (built with the onnx helper API) become inference spans."""

from __future__ import annotations

import threading

import numpy as np
import onnxruntime as ort
import pytest
from onnxruntime.capi import onnxruntime_inference_collection as collection
from opentelemetry.trace import StatusCode

import agent_otel
from agent_otel import semconv
from agent_otel.instrumentation.onnxruntime import OnnxRuntimeInstrumentor
from agent_otel.optimize.models import tiny_classifier_bytes


@pytest.fixture
def session(tmp_path):
    path = tmp_path / "intent.onnx"
    path.write_bytes(tiny_classifier_bytes())
    original = collection.Session.run
    inst = OnnxRuntimeInstrumentor()
    inst.instrument()
    try:
        yield ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    finally:
        inst.uninstrument()
    assert collection.Session.run is original  # restored exactly


def test_run_is_an_inference_span_under_the_agent(otel, session):
    feed = {"features": np.ones((4, 4), dtype=np.float32)}
    with agent_otel.agent("classifier-bot"):
        probs = session.run(None, feed)[0]
    assert probs.shape == (4, 3)
    span = otel.span("inference intent.onnx")
    assert span.attributes[semconv.AGENT_OTEL_INFERENCE_PROVIDER] == "onnxruntime"
    assert span.attributes[semconv.AGENT_OTEL_INFERENCE_MODEL] == "intent.onnx"
    assert span.attributes[semconv.AGENT_OTEL_BATCH_SIZE] == 4
    assert list(span.attributes["agent_otel.inference.input_shapes"]) == ["features:[4, 4]"]
    assert span.attributes["agent_otel.inference.execution_provider"] == "CPUExecutionProvider"
    assert span.parent.span_id == otel.span("invoke_agent classifier-bot").context.span_id
    points = [p for p in otel.metrics()[semconv.METRIC_DURATION] if p.attributes[semconv.AGENT_OTEL_KIND] == "inference"]
    assert points[0].count == 1


def test_wrong_input_shape_passes_through_and_marks_error(otel, session):
    """The user gets onnxruntime's own exception, unchanged; the span names its type and message."""
    from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

    with pytest.raises(InvalidArgument, match="Got invalid dimensions for input: features") as caught:
        session.run(None, {"features": np.ones((2, 7), dtype=np.float32)})
    assert type(caught.value) is InvalidArgument
    span = otel.span("inference intent.onnx")
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument"
    assert "Got invalid dimensions" in span.status.description


def test_run_async_span_ends_in_the_callback(otel, session):
    done = threading.Event()
    got = {}

    def callback(results, user_data, err):
        got["results"], got["err"] = results, err
        done.set()

    session.run_async(None, {"features": np.zeros((2, 4), dtype=np.float32)}, callback, None)
    assert done.wait(10)
    assert got["err"] == "" and got["results"][0].shape == (2, 3)
    assert otel.span("inference intent.onnx").attributes[semconv.AGENT_OTEL_BATCH_SIZE] == 2


def test_instrument_by_name_and_entry_point():
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group="opentelemetry_instrumentor")}
    assert names["agent_otel_onnxruntime"] == "agent_otel.instrumentation.onnxruntime:OnnxRuntimeInstrumentor"
    from agent_otel.instrumentation import instrument, uninstrument

    assert instrument(["onnxruntime"]) == ["onnxruntime"]
    uninstrument(["onnxruntime"])
    with pytest.raises(ValueError, match="unknown library 'tensorflow'"):
        instrument(["tensorflow"])
