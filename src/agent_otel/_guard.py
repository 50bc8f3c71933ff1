"""Keep agent-otel's own failures away from the host program.

Every place where agent-otel code runs inside a user's call goes through `report_internal_error`:
the first failure at a given place is logged (once, with its traceback), every failure is
counted, and the count is exported as a metric so a broken instrumentation is visible without
ever raising into user code.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Final

from opentelemetry import metrics

from agent_otel import semconv

_logger: Final = logging.getLogger("agent_otel")
_lock = threading.Lock()
_counts: Counter[str] = Counter()
_counter = None


def _internal_errors_counter():  # type: ignore[no-untyped-def]
    global _counter
    if _counter is None:
        _counter = metrics.get_meter("agent_otel").create_counter(
            semconv.METRIC_INTERNAL_ERRORS,
            unit="{error}",
            description="Errors inside agent-otel that were caught and kept from user code.",
        )
    return _counter


def report_internal_error(where: str, exc: BaseException) -> None:
    """Log the first error at `where`, count all of them. Never raises."""
    try:
        with _lock:
            _counts[where] += 1
            first = _counts[where] == 1
        if first:
            _logger.warning(
                "agent-otel internal error in %s (further ones there are only counted)",
                where,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        _internal_errors_counter().add(
            1, {"agent_otel.where": where, semconv.ERROR_TYPE: type(exc).__qualname__}
        )
    except Exception:  # noqa: BLE001 - the last line of defence must not raise
        pass


def internal_error_counts() -> dict[str, int]:
    """How many internal errors each place has had (for tests and `agent-otel` diagnostics)."""
    with _lock:
        return dict(_counts)


def reset_for_tests() -> None:
    """Forget counts, and the meter binding (tests install fresh providers)."""
    global _counter
    with _lock:
        _counts.clear()
    _counter = None
