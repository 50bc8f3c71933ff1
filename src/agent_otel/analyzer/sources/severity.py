"""Which log line of a trace the report shows next to its error: the most severe, the last among equals.

Shared by every log source (local store, Loki), which only differ in how they read the lines.
"""

from __future__ import annotations

from collections.abc import Iterable


def severity_rank(severity: str | None) -> int:
    """3 for error/fatal/critical, 2 for warnings, 1 for everything else (info, debug, none)."""
    s = (severity or "").upper()
    if s.startswith(("ERROR", "FATAL", "CRIT")):
        return 3
    if s.startswith("WARN"):
        return 2
    return 1


def most_severe_per_trace(lines: Iterable[tuple[str, str | None, str]]) -> dict[str, str]:
    """(trace id, severity, text) in time order -> trace id -> "SEVERITY text" of its most severe line."""
    best: dict[str, tuple[int, str]] = {}
    for trace_id, severity, text in lines:
        rank = severity_rank(severity)
        if trace_id and rank >= best.get(trace_id, (-1, ""))[0]:
            best[trace_id] = (rank, f"{(severity or 'LOG').upper()} {text}")
    return {t: line for t, (_, line) in best.items()}
