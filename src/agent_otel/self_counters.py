"""agent-otel's counters about itself (internal errors, redactions, dropped attribute values).

Each is an OpenTelemetry counter made on first use, from whatever meter provider is global by then
(so one made before `configure()` still reaches the configured exporters), plus per-key totals kept
in the process for diagnostics and tests.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from opentelemetry import metrics


class SelfCounter:
    def __init__(self, name: str, unit: str, description: str) -> None:
        self.name, self.unit, self.description = name, unit, description
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._instrument: Any = None

    def tally(self, key: str, n: int = 1) -> int:
        """Count `n` more for `key` in this process; returns its total so far."""
        with self._lock:
            self._counts[key] += n
            return self._counts[key]

    def export(self, n: int, attributes: Mapping[str, Any]) -> None:
        """Add `n` to the exported counter (may raise if the SDK does: callers guard it)."""
        if self._instrument is None:
            self._instrument = metrics.get_meter("agent_otel").create_counter(self.name, unit=self.unit, description=self.description)
        self._instrument.add(n, attributes)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        """Forget the totals and the instrument (tests install fresh providers)."""
        with self._lock:
            self._counts.clear()
        self._instrument = None
