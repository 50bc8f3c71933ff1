"""OpenAI: the official `opentelemetry-instrumentation-genai-openai`, plus token usage of every stream.

The official instrumentation records chat completions, embeddings and the Responses API (spans,
usage, cache tokens, time to first chunk and per output chunk, content in the conventions'
schema). Like the API itself it has no token usage for a stream unless the caller asked for it
(`stream_options={"include_usage": True}`), and most callers don't.

This layer adds exactly that. It asks for the usage on the caller's behalf and removes from the
stream the one extra chunk the server then sends (no choices, only usage), after the official
instrumentation has seen it: the span and the token metric get the usage, the caller's iteration
is what it would have been. A caller who set `include_usage` either way is left alone, and so is
a raw-response call (`with_raw_response`), whose body the caller reads itself.
`instrument(stream_usage=False)` turns the layer off. Everything else is the official instrumentor,
enabled first (or found enabled, e.g. by `opentelemetry-instrument`) so this wrapper is outermost.

Why a wrapper here: no OpenTelemetry package adds stream usage (tested side by side in
tests/unit/instrumentation/test_openai.py).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from agent_otel._guard import report_internal_error
from agent_otel.instrumentation.official_layer import OfficialLayer
from agent_otel.instrumentation.openai.package import _instruments

_MODULE = "openai.resources.chat.completions"
_RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"  # openai._constants.RAW_RESPONSE_HEADER


def _official() -> Any:
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor as Official

    return Official()


def _ask_for_usage(kwargs: dict[str, Any]) -> bool:
    """Add include_usage to a streamed request that lacks it; True when added (its chunk is then ours to drop)."""
    if kwargs.get("stream") is not True:
        return False
    options = kwargs.get("stream_options")
    if isinstance(options, dict) and "include_usage" in options:
        return False
    if options is not None and not isinstance(options, dict):  # NotGiven/Omit sentinels are not dicts
        if type(options).__name__ not in ("NotGiven", "Omit"):
            return False
        options = None
    headers = kwargs.get("extra_headers")
    if isinstance(headers, dict) and any(str(k).lower() == _RAW_RESPONSE_HEADER.lower() for k in headers):
        return False
    kwargs["stream_options"] = {**(options or {}), "include_usage": True}
    return True


def _is_usage_only(chunk: Any) -> bool:
    return not getattr(chunk, "choices", None) and getattr(chunk, "usage", None) is not None


class _WithoutUsageChunk(wrapt.ObjectProxy):  # type: ignore[misc]
    """The stream as the caller asked for it: the usage-only chunk requested on its behalf is skipped."""

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        while True:
            chunk = next(self.__wrapped__)
            if not _is_usage_only(chunk):
                return chunk

    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> Any:
        while True:
            chunk = await self.__wrapped__.__anext__()
            if not _is_usage_only(chunk):
                return chunk

    def __enter__(self) -> Any:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self.__wrapped__.__exit__(*exc)

    async def __aenter__(self) -> Any:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self.__wrapped__.__aexit__(*exc)


class OpenAIInstrumentor(OfficialLayer):
    """The official OpenAI instrumentation, with token usage on streams whose caller did not ask for it."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    own_options = ("stream_usage",)

    def _official(self) -> BaseInstrumentor:
        return _official()

    def _add_layer(self, **kwargs: Any) -> None:
        if kwargs.get("stream_usage", True) is False:
            self._wrapped = False
            return
        active = self

        def create(wrapped: Any, instance: Any, args: tuple, kw: dict) -> Any:
            if not active.is_instrumented_by_opentelemetry:
                return wrapped(*args, **kw)
            try:
                added = _ask_for_usage(kw)
            except Exception as internal:  # noqa: BLE001
                report_internal_error("openai.stream_usage", internal)
                added = False
            result = wrapped(*args, **kw)
            return _WithoutUsageChunk(result) if added else result

        async def acreate(wrapped: Any, instance: Any, args: tuple, kw: dict) -> Any:
            if not active.is_instrumented_by_opentelemetry:
                return await wrapped(*args, **kw)
            try:
                added = _ask_for_usage(kw)
            except Exception as internal:  # noqa: BLE001
                report_internal_error("openai.stream_usage", internal)
                added = False
            result = await wrapped(*args, **kw)
            return _WithoutUsageChunk(result) if added else result

        wrapt.wrap_function_wrapper(_MODULE, "Completions.create", create)
        wrapt.wrap_function_wrapper(_MODULE, "AsyncCompletions.create", acreate)
        self._wrapped = True

    def _remove_layer(self) -> None:
        import openai.resources.chat.completions as mod

        if getattr(self, "_wrapped", False):
            for cls in (mod.Completions, mod.AsyncCompletions):
                if isinstance(cls.__dict__.get("create"), wrapt.FunctionWrapper):  # ours is the outermost
                    cls.create = cls.__dict__["create"].__wrapped__
