"""The shape of agent-otel's thin layers over an official OpenTelemetry GenAI instrumentor.

Such a layer enables the official instrumentor for its library first (or finds it enabled, e.g. by
`opentelemetry-instrument`), so its own wrappers are outermost, then adds the one thing it exists
for (`_add_layer`); uninstrumenting removes that and disables the official one only if it enabled it.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor


class OfficialLayer(BaseInstrumentor):
    own_options: tuple[str, ...] = ()  # instrument() keywords the layer reads and the official one must not see

    def _official(self) -> BaseInstrumentor:
        raise NotImplementedError

    def _add_layer(self, **kwargs: Any) -> None:
        raise NotImplementedError

    def _remove_layer(self) -> None:
        raise NotImplementedError

    def _instrument(self, **kwargs: Any) -> None:
        official = self._official()
        self._enabled_official = not official.is_instrumented_by_opentelemetry
        if self._enabled_official:
            official.instrument(**{k: v for k, v in kwargs.items() if k not in self.own_options})
        self._add_layer(**kwargs)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._remove_layer()
        if getattr(self, "_enabled_official", False):
            self._official().uninstrument()
