"""One unit per column: a duration column is all milliseconds or all seconds, chosen by its
largest value, and a figure that does not apply is blank, never 0 or 0.0000."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

NA = ""  # what a not-applicable figure shows


def duration_unit(values_ms: Iterable[float | None]) -> tuple[str, float]:
    """("ms", 1) or ("s", 1000) for a column whose largest value is under / over 10 s."""
    top = max((v for v in values_ms if v is not None), default=0.0)
    return ("s", 1000.0) if top >= 10_000 else ("ms", 1.0)


def fmt_duration(v: float | None, unit: tuple[str, float], missing: str = "–") -> str:
    """A duration in the column's unit, without the unit (it is in the header); `missing` for None."""
    if v is None:
        return missing
    return f"{v / unit[1]:,.2f}" if unit[0] == "s" else f"{v:,.1f}"


def _get(row: Any, name: str) -> Any:
    """A field of a report row: a model object (analyzer/model.py) or a trace view's dict."""
    return row.get(name) if isinstance(row, dict) else getattr(row, name, None)


def fmt_tokens(row: Any) -> str:
    """`in/out`, or blank when the row has no tokens (a tool, a step) rather than `0/0`."""
    i, o = _get(row, "input_tokens"), _get(row, "output_tokens")
    if i is None and o is None or not (i or o):
        return NA
    return f"{i or 0:,}/{o or 0:,}"


def fmt_cost(row: Any) -> str:
    """Dollars, `unpriced (N tok)` for tokens of models missing from the price table, blank when not applicable."""
    cost, unpriced = _get(row, "cost_usd"), _get(row, "unpriced_tokens") or 0
    parts = []
    if cost:
        parts.append(f"{cost:.4f}")
    if unpriced:
        parts.append(f"unpriced ({unpriced:,} tok)")
    if not parts and cost == 0 and (_get(row, "input_tokens") or _get(row, "output_tokens")):
        parts.append("0.0000")  # priced tokens that cost nothing: a real zero
    return " + ".join(parts) if parts else NA


def fmt_rate(v: float | None) -> str:
    if v is None:
        return NA
    return f"{v:,.2f}" if v >= 0.01 or v == 0 else f"{v:.2g}"


def resource_bits(res: Any) -> list[str]:
    """The recorded resource figures as short phrases ("CPU 12.5%", "RSS 310 MiB", "GPU 40%")."""
    bits = []
    if res.cpu_utilization is not None:
        bits.append(f"CPU {res.cpu_utilization * 100:.1f}%")
    if res.memory_rss_bytes is not None:
        bits.append(f"RSS {res.memory_rss_bytes / 2**20:,.0f} MiB")
    if res.gpu_utilization is not None:
        bits.append(f"GPU {res.gpu_utilization * 100:.0f}%")
    return bits
