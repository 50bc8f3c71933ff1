"""Windows as users type them: `1h`, `30m`, `2d`, and baselines like `24h..1h` (from 24h ago to 1h ago)."""

from __future__ import annotations

import re
import time

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str, what: str = "duration") -> float:
    """Seconds in `text` ("90s", "15m", "1h", "2d"); a clear error otherwise."""
    m = _DURATION.match(text or "")
    if not m:
        raise ValueError(f"{what} {text!r}: expected a number and a unit s/m/h/d/w, e.g. 1h or 30m")
    return float(m.group(1)) * _UNITS[m.group(2)]


def window(since: str, now_ns: int | None = None) -> tuple[int, int]:
    now = now_ns or time.time_ns()
    return now - int(parse_duration(since, "--since") * 1e9), now + 1


def baseline_window(spec: str, now_ns: int | None = None) -> tuple[int, int]:
    """`24h..1h`: from 24 hours ago until 1 hour ago."""
    if ".." not in spec:
        raise ValueError(f"--baseline {spec!r}: expected FROM..TO like 24h..1h, or a saved baseline file")
    far, near = spec.split("..", 1)
    now = now_ns or time.time_ns()
    start = now - int(parse_duration(far, "--baseline start") * 1e9)
    end = now - int(parse_duration(near, "--baseline end") * 1e9)
    if start >= end:
        raise ValueError(f"--baseline {spec!r}: the start must be further back than the end")
    return start, end
