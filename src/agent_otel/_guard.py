"""Keep agent-otel's own failures away from the host program.

Every place where agent-otel code runs inside a user's call goes through `report_internal_error`:
the first failure at a given place is logged (once, with its traceback), every failure is
counted, and the count is exported as a metric so a broken instrumentation is visible without
ever raising into user code.
"""

from __future__ import annotations

import logging
from typing import Final

from agent_otel import semconv
from agent_otel.self_counters import SelfCounter

_logger: Final = logging.getLogger("agent_otel")
INTERNAL_ERRORS: Final = SelfCounter(
    semconv.METRIC_INTERNAL_ERRORS, "{error}", "Errors inside agent-otel that were caught and kept from user code."
)


def report_internal_error(where: str, exc: BaseException) -> None:
    """Log the first error at `where`, count all of them. Never raises."""
    try:
        if INTERNAL_ERRORS.tally(where) == 1:
            _logger.warning(
                "agent-otel internal error in %s (further ones there are only counted)",
                where,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        INTERNAL_ERRORS.export(1, {"agent_otel.where": where, semconv.ERROR_TYPE: type(exc).__qualname__})
    except Exception:  # noqa: BLE001 - the last line of defence must not raise
        pass


def internal_error_counts() -> dict[str, int]:
    """How many internal errors each place has had (for tests and `agent-otel` diagnostics)."""
    return INTERNAL_ERRORS.counts()


def reset_for_tests() -> None:
    """Forget counts, and the meter binding (tests install fresh providers)."""
    INTERNAL_ERRORS.reset()
