"""Opt-in content capture: whether to record arguments/results, and how to make them safe.

Content (prompts, tool arguments, results) is never recorded unless the user opts in, with
``configure(capture_content=True)``, a decorator's ``capture_content=True``, or the env var
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` / ``AGENT_OTEL_CAPTURE_CONTENT``.
What is recorded is serialised, truncated and redacted for secrets before it leaves the process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agent_otel import redaction, semconv

_TRUE = {"1", "true", "yes", "on"}
DEFAULT_MAX_LENGTH = 4096
REDACTED = redaction.REDACTED

# The secret shapes live in `agent_otel.redaction` (one policy for content and every exported signal).
DEFAULT_PATTERNS: tuple[str, ...] = tuple(p.regex for p in redaction.DEFAULT_PATTERNS)


def _env_flag(*names: str) -> bool:
    return any(os.environ.get(n, "").strip().lower() in _TRUE for n in names)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
        if value <= 0:
            raise ValueError
        return value
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a positive integer") from None


@dataclass
class ContentPolicy:
    """Process-wide content settings; `configure()` replaces it, env vars give the defaults."""

    capture: bool = False
    max_length: int = DEFAULT_MAX_LENGTH
    patterns: redaction.Policy | None = None  # None: the process-wide policy (redaction.active())

    @classmethod
    def from_env(cls) -> ContentPolicy:
        return cls(
            capture=_env_flag(semconv.ENV_CAPTURE_CONTENT, semconv.ENV_AGENT_OTEL_CAPTURE_CONTENT),
            max_length=_env_int(semconv.ENV_MAX_CONTENT_LENGTH, DEFAULT_MAX_LENGTH),
        )


def compile_patterns(extra: Iterable[str], *, emails: bool | None = None) -> redaction.Policy:
    """Default secret patterns plus the user's (see `agent_otel.redaction`); a bad regex is an error naming it."""
    return redaction.build(extra, emails=emails)


_policy: ContentPolicy | None = None


def policy() -> ContentPolicy:
    global _policy
    if _policy is None:
        try:
            _policy = ContentPolicy.from_env()
        except ValueError:
            _policy = ContentPolicy()
    return _policy


def set_policy(new: ContentPolicy | None) -> None:
    """Install a policy (None: re-read the environment at next use)."""
    global _policy
    _policy = new


def redact(text: str, pol: ContentPolicy | None = None) -> str:
    return ((pol or policy()).patterns or redaction.active()).redact(text)


def _default(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray)):
        return obj.decode("utf-8", errors="replace")
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return repr(obj)


def render(value: Any, pol: ContentPolicy | None = None) -> str:
    """A value as a bounded, redacted string attribute (JSON where it can be)."""
    pol = pol or policy()
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=_default, ensure_ascii=False)
        except (ValueError, TypeError, RecursionError):
            try:
                text = repr(value)
            except Exception:  # noqa: BLE001 - RecursionError, or a user __repr__ that raises
                text = f"<{type(value).__qualname__}: not representable>"
    # Truncate before redaction (bounded work), then again after (replacements may grow it).
    limit = pol.max_length
    if len(text) > limit * 2:
        text = text[: limit * 2]
    text = redact(text, pol)
    if len(text) > limit:
        text = text[: max(limit - 3, 0)] + "..."
    # Lone surrogates are not valid UTF-8 and would fail the OTLP encoder.
    return text.encode("utf-8", errors="replace").decode("utf-8")
