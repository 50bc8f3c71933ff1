"""What every model-client instrumentation shares: one `ModelCall` per request, and stream wrappers.

A model call is a CLIENT span `{operation} {model}` recorded through the same `Recorder` as the
`@llm` decorator, plus what the client library knows: request parameters, response model and id,
finish reasons, token usage (the token metric), server address, stream timing
(`gen_ai.response.time_to_first_chunk`, the time-to-first-chunk and time-per-output-chunk
metrics) and, when opted in, content in the conventions' message shapes.

Nested duplicates are avoided the way opentelemetry-util-genai does it, with a context key: inside
a model call already being recorded (by `@agent_otel.llm`, a framework instrumentation, or
util-genai's inference invocation) the client call adds its request and response details to that
span instead of opening a second one.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace

from agent_otel import semconv
from agent_otel._guard import report_internal_error
from agent_otel.recorder import MODEL_CALL_KEY, UTIL_GENAI_INFERENCE_KEY, Recorder, default_recorder, make_spec


def in_model_call() -> bool:
    return bool(otel_context.get_value(MODEL_CALL_KEY) or otel_context.get_value(UTIL_GENAI_INFERENCE_KEY))


@functools.lru_cache(maxsize=512)
def _spec(provider: str, operation: str, model: str | None) -> Any:
    return make_spec(semconv.KIND_LLM, None, {"model": model, "provider": provider, "operation": operation})


class ModelCall:
    """Span, metrics and response details of one client request; `end()` may be called once."""

    def __init__(self, provider: str, operation: str, model: str | None, *, server: tuple[str | None, int | None] = (None, None),
                 request: dict[str, Any] | None = None, messages: list[dict[str, Any]] | None = None,
                 system: list[dict[str, Any]] | None = None, tools: list[dict[str, Any]] | None = None,
                 recorder: Callable[[], Recorder] = default_recorder) -> None:
        self.provider, self.operation, self.model = provider, operation, model
        self.suppressed = in_model_call()
        self.ended = False
        self.started = None
        self.t0 = time.perf_counter()
        self.first_chunk_at: float | None = None
        self.last_chunk_at: float | None = None
        self.chunk_gaps: list[float] = []
        self.rec = recorder()
        self.token = None
        if self.suppressed:
            self.span = trace.get_current_span()
        else:
            self.spec = _spec(provider, operation, model)
            try:
                self.span, _ctx, self.token, self.t0 = self.rec.begin(self.spec)  # the llm spec marks the context
                self.started = True
            except Exception as exc:  # noqa: BLE001
                report_internal_error("client.start", exc)
                self.span = trace.INVALID_SPAN
        try:
            span = self.span
            if span.is_recording():
                current = getattr(span, "attributes", None) or {}
                host, port = server
                extra = {
                    semconv.SERVER_ADDRESS: host, semconv.SERVER_PORT: port,
                    # the @llm span around a client call learns the provider and model from it
                    semconv.GEN_AI_PROVIDER_NAME: provider if self.suppressed else None,
                    semconv.GEN_AI_REQUEST_MODEL: model if self.suppressed else None,
                }
                for key, value in {**extra, **(request or {})}.items():
                    if value is not None and (not self.suppressed or key not in current):
                        span.set_attribute(key, value)
                if messages or system or tools:
                    self.rec.model_input(span, messages, system, tools)
        except Exception as exc:  # noqa: BLE001
            report_internal_error("client.request_attributes", exc)

    def detach(self) -> None:
        """Leave the caller's context (a stream keeps the span open past the create() call)."""
        if self.token is not None:
            otel_context.detach(self.token)
            self.token = None

    def chunk(self) -> None:
        """A stream chunk arrived: time to first chunk, and the gaps between the following ones."""
        now = time.perf_counter()
        if self.first_chunk_at is None:
            self.first_chunk_at = now
        elif self.last_chunk_at is not None:
            self.chunk_gaps.append(now - self.last_chunk_at)
        self.last_chunk_at = now

    def response(self, *, model: str | None = None, response_id: str | None = None, finish_reasons: list[str] | None = None,
                 input_tokens: int | None = None, output_tokens: int | None = None, cache_read_tokens: int | None = None,
                 output: list[dict[str, Any]] | None = None, extra: dict[str, Any] | None = None) -> None:
        try:
            span = self.span
            if span.is_recording():
                values = {
                    semconv.GEN_AI_RESPONSE_MODEL: model or None,
                    semconv.GEN_AI_RESPONSE_ID: response_id or None,
                    semconv.GEN_AI_RESPONSE_FINISH_REASONS: [str(f) for f in finish_reasons if f] if finish_reasons else None,
                    **(extra or {}),
                }
                for key, value in values.items():
                    if value is not None and value != []:
                        span.set_attribute(key, value)
                if self.first_chunk_at is not None:
                    span.set_attribute(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, self.first_chunk_at - self.t0)
                if output:
                    self.rec.model_output(span, output)
            attrs = {semconv.GEN_AI_OPERATION_NAME: self.operation, semconv.GEN_AI_PROVIDER_NAME: self.provider}
            if self.model:
                attrs[semconv.GEN_AI_REQUEST_MODEL] = self.model
            if model:
                attrs[semconv.GEN_AI_RESPONSE_MODEL] = model
            span_attrs = getattr(span, "attributes", None) or {}
            for key in (semconv.SERVER_ADDRESS, semconv.SERVER_PORT):
                if key in span_attrs:
                    attrs[key] = span_attrs[key]
            self.rec.usage(span, attrs, input_tokens, output_tokens, cache_read_tokens=cache_read_tokens, add=self.suppressed)
            if self.first_chunk_at is not None:
                self.rec.stream_timing(attrs, self.first_chunk_at - self.t0, self.chunk_gaps)
        except Exception as exc:  # noqa: BLE001
            report_internal_error("client.response", exc)

    def end(self, exc: BaseException | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        if self.suppressed or self.started is None:
            self.detach()
            return
        token, self.token = self.token, None
        self.rec.end(self.spec, self.span, token, self.t0, exc)


def call(make: Any, wrapped: Any, args: tuple, kwargs: dict, on_response: Any, wrap_stream: Any) -> Any:
    """Run a sync client method inside a ModelCall; streams end the span when they end."""
    mc = make(kwargs)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        mc.end(exc)
        raise
    if kwargs.get("stream"):
        mc.detach()
        return wrap_stream(result, mc)
    on_response(mc, result)
    mc.end()
    return result


async def acall(make: Any, wrapped: Any, args: tuple, kwargs: dict, on_response: Any, wrap_stream: Any) -> Any:
    mc = make(kwargs)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        mc.end(exc)
        raise
    if kwargs.get("stream"):
        mc.detach()
        return wrap_stream(result, mc)
    on_response(mc, result)
    mc.end()
    return result


class StreamProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    """Passes a sync or async stream through unchanged, feeding each chunk to `on_chunk`; the
    model call ends when the stream is exhausted, fails or is closed."""

    def __init__(self, stream: Any, mc: ModelCall, on_chunk: Any, on_done: Any) -> None:
        super().__init__(stream)
        self._self_mc, self._self_on_chunk, self._self_on_done = mc, on_chunk, on_done
        self._self_state: dict[str, Any] = {}

    def _self_chunk(self, chunk: Any) -> None:
        try:
            self._self_mc.chunk()
            self._self_on_chunk(self._self_state, chunk)
        except Exception as exc:  # noqa: BLE001
            report_internal_error("client.stream_chunk", exc)

    def _self_finish(self, exc: BaseException | None = None) -> None:
        if not self._self_mc.ended:
            try:
                self._self_on_done(self._self_mc, self._self_state)  # what arrived, also when cut short
            except Exception as internal:  # noqa: BLE001
                report_internal_error("client.stream_done", internal)
            self._self_mc.end(exc)

    def __iter__(self) -> Any:
        try:
            for chunk in self.__wrapped__:
                self._self_chunk(chunk)
                yield chunk
        except BaseException as exc:
            self._self_finish(None if isinstance(exc, GeneratorExit) else exc)
            raise
        self._self_finish()

    def __next__(self) -> Any:
        try:
            chunk = self.__wrapped__.__next__()
        except StopIteration:
            self._self_finish()
            raise
        except BaseException as exc:
            self._self_finish(exc)
            raise
        self._self_chunk(chunk)
        return chunk

    async def __aiter_impl(self) -> Any:
        try:
            async for chunk in self.__wrapped__:
                self._self_chunk(chunk)
                yield chunk
        except BaseException as exc:
            self._self_finish(None if isinstance(exc, GeneratorExit) else exc)
            raise
        self._self_finish()

    def __aiter__(self) -> Any:
        return self.__aiter_impl()

    async def __anext__(self) -> Any:
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_finish()
            raise
        except BaseException as exc:
            self._self_finish(exc)
            raise
        self._self_chunk(chunk)
        return chunk

    def close(self) -> Any:
        self._self_finish()
        return self.__wrapped__.close()

    async def aclose(self) -> Any:  # AsyncStream's close is `close()` coroutine in openai; both exist in some SDKs
        self._self_finish()
        closer = getattr(self.__wrapped__, "aclose", None) or self.__wrapped__.close
        return await closer()

    def __enter__(self) -> Any:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        self._self_finish(exc[1] if exc and isinstance(exc[1], BaseException) and not isinstance(exc[1], GeneratorExit) else None)
        return self.__wrapped__.__exit__(*exc)

    async def __aenter__(self) -> Any:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        self._self_finish(exc[1] if exc and isinstance(exc[1], BaseException) else None)
        return await self.__wrapped__.__aexit__(*exc)
