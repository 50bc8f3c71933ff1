"""onnxruntime: `InferenceSession.run`, `run_with_iobinding` and `run_async` as `inference {model}` spans.

Each call carries the model (file name), the execution provider, input shapes and batch size as
`agent_otel.inference.*` attributes (local inference is not a GenAI operation of the conventions,
so no gen_ai.* set), and records `agent_otel.duration{agent_otel.kind="inference"}` like the
`@inference` decorator, through the same recorder.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Collection
from typing import Any

import wrapt
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap

from agent_otel import semconv
from agent_otel._guard import report_internal_error
from agent_otel.instrumentation.onnxruntime.package import _instruments
from agent_otel.recorder import make_spec, recorder_for

_MODULE = "onnxruntime.capi.onnxruntime_inference_collection"
_specs: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
INPUT_SHAPES = "agent_otel.inference.input_shapes"
EXECUTION_PROVIDER = "agent_otel.inference.execution_provider"


def _spec(session: Any) -> Any:
    spec = _specs.get(session)
    if spec is None:
        path = getattr(session, "_model_path", None)
        model = os.path.basename(path) if isinstance(path, str) and path else "onnx-model"
        providers = session.get_providers()
        spec = make_spec(
            semconv.KIND_INFERENCE,
            None,
            {"model": model, "system": "onnxruntime", "attributes": {EXECUTION_PROVIDER: providers[0] if providers else "unknown"}},
        )
        _specs[session] = spec
    return spec


def _shapes(feed: Any) -> tuple[list[str], int | None]:
    if not isinstance(feed, dict):
        return [], None
    shapes, batch = [], None
    for name, value in feed.items():
        shape = getattr(value, "shape", None)
        if shape is not None:
            shapes.append(f"{name}:{list(shape)}")
            if batch is None and len(shape):
                batch = int(shape[0])
    return shapes, batch


def _start(rec_of: Any, session: Any, feed: Any):  # type: ignore[no-untyped-def]
    try:
        spec = _spec(session)
        rec = rec_of()
        started = (rec, *rec.begin(spec))
    except Exception as exc:  # noqa: BLE001
        report_internal_error("onnxruntime.start", exc)
        return None, None
    if started is not None:
        span = started[1]
        if span.is_recording():
            try:
                shapes, batch = _shapes(feed)
                if shapes:
                    span.set_attribute(INPUT_SHAPES, shapes)
                if batch is not None:
                    span.set_attribute(semconv.AGENT_OTEL_BATCH_SIZE, batch)
            except Exception as exc:  # noqa: BLE001
                report_internal_error("onnxruntime.attributes", exc)
    return spec, started


def _traced_run(rec_of: Any, feed_of: Any):  # type: ignore[no-untyped-def]
    def run(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        spec, started = _start(rec_of, instance, feed_of(args, kwargs))
        if started is None:
            return wrapped(*args, **kwargs)
        rec, span, _ctx, token, t0 = started
        error: BaseException | None = None
        try:
            return wrapped(*args, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            rec.end(spec, span, token, t0, error)

    return run


def _feed(args: tuple, kwargs: dict) -> Any:
    return args[1] if len(args) > 1 else kwargs.get("input_feed")


def _run_async(rec_of: Any, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """run_async(output_names, input_feed, callback, user_data): the span ends in the callback."""
    spec, started = _start(rec_of, instance, _feed(args, kwargs))
    if started is None:
        return wrapped(*args, **kwargs)
    rec, span, _ctx, token, t0 = started
    otel_context.detach(token)  # the call returns at once; the callback runs on another thread
    callback = args[2] if len(args) > 2 else kwargs.get("callback")

    def done(results: Any, user_data: Any, err: str) -> Any:
        rec.end(spec, span, None, t0, RuntimeError(err) if err else None)
        return callback(results, user_data, err)

    if len(args) > 2:
        args = (*args[:2], done, *args[3:])
    else:
        kwargs = {**kwargs, "callback": done}
    try:
        return wrapped(*args, **kwargs)
    except BaseException as exc:
        rec.end(spec, span, None, t0, exc)
        raise


class OnnxRuntimeInstrumentor(BaseInstrumentor):
    """Spans and metrics for every onnxruntime session run."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        rec_of = recorder_for(kwargs)
        wrapt.wrap_function_wrapper(_MODULE, "Session.run", _traced_run(rec_of, _feed))
        wrapt.wrap_function_wrapper(_MODULE, "Session.run_with_iobinding", _traced_run(rec_of, lambda a, k: None))
        wrapt.wrap_function_wrapper(_MODULE, "Session.run_async", lambda w, i, a, k: _run_async(rec_of, w, i, a, k))

    def _uninstrument(self, **kwargs: Any) -> None:
        import onnxruntime.capi.onnxruntime_inference_collection as mod

        for name in ("run", "run_with_iobinding", "run_async"):
            unwrap(mod.Session, name)
