"""Anthropic: the official `opentelemetry-instrumentation-genai-anthropic`, without the SDK's second span.

Recent `anthropic` SDKs trace their own API calls: a CLIENT span `anthropic.messages.create` that
carries `gen_ai.operation.name` and `gen_ai.usage.*` too. Under the official instrumentation (or
`@agent_otel.llm`) that is a second model span for the same call, and every token and dollar is
counted twice by whatever sums the spans (shown side by side in
tests/unit/instrumentation/test_providers.py).

This layer enables the official instrumentor (or finds it enabled, e.g. by `opentelemetry-instrument`)
and has the SDK skip its call span while a model call is already being recorded — the same context
key util-genai's own nested invocations obey (`agent_otel.stacking.in_model_call`). Outside a
recorded model call the SDK's spans are untouched. Everything else is the official instrumentor.

Why a wrapper here: no OpenTelemetry package coordinates the two; the hook is the SDK's
`start_api_call_span`, which returns None for "no span" by its own contract.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from agent_otel.instrumentation.anthropic.package import _instruments
from agent_otel.instrumentation.official_layer import OfficialLayer
from agent_otel.stacking import in_model_call

_HOOK_MODULE = "anthropic._base_client"
_HOOK = "start_api_call_span"


def _official() -> Any:
    from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor as Official

    return Official()


class AnthropicInstrumentor(OfficialLayer):
    """The official Anthropic instrumentation; the SDK's own call span only where no model span records the call."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _official(self) -> BaseInstrumentor:
        return _official()

    def _add_layer(self, **kwargs: Any) -> None:
        import importlib

        module = importlib.import_module(_HOOK_MODULE)
        self._hooked = callable(getattr(module, _HOOK, None))  # older SDKs have no tracing of their own
        if not self._hooked:
            return
        active = self

        def start_api_call_span(wrapped: Any, instance: Any, args: tuple, kw: dict) -> Any:
            if active.is_instrumented_by_opentelemetry and in_model_call():
                return None  # the model span in progress records this call
            return wrapped(*args, **kw)

        wrapt.wrap_function_wrapper(_HOOK_MODULE, _HOOK, start_api_call_span)

    def _remove_layer(self) -> None:
        import importlib

        if getattr(self, "_hooked", False):
            module = importlib.import_module(_HOOK_MODULE)
            hook = getattr(module, _HOOK)
            if isinstance(hook, wrapt.FunctionWrapper):
                setattr(module, _HOOK, hook.__wrapped__)
