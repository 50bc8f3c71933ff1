"""The one parser for headers a user hands over: `configure(headers=...)`, OTEL-style variables
(AGENT_OTEL_<BACKEND>_HEADERS) and the CLI's repeatable `--header 'Name: value'`.

Headers carry credentials, so a malformed entry is named by its place and never by its value.
Written here rather than taken from `opentelemetry.util.re.parse_env_headers` because that one skips
a malformed entry with a warning, and a silently dropped credential shows up later as a 401.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import unquote

from agent_otel.errors import AgentOtelError, ConfigError


def parse_headers(
    raw: str | Mapping[str, str] | Iterable[str],
    where: str,
    *,
    error: type[AgentOtelError] = ConfigError,
) -> dict[str, str]:
    """`k=v,k2=v2` (the OTLP variables' form; values may be %-encoded), a mapping as it is, or a list
    of `Name: value` entries (curl's form). A malformed entry raises `error` naming `where` and its number."""
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, str):
        entries, sep, form = [p for p in raw.split(",") if p.strip()], "=", "key=value"
    else:
        entries, sep, form = list(raw), ":", "'Name: value'"
    headers = {}
    for i, entry in enumerate(entries):
        key, found, value = entry.partition(sep)
        if not found or not key.strip():
            raise error(f"{where}: entry {i + 1} is not {form} (value not shown)")
        headers[key.strip()] = unquote(value.strip()) if sep == "=" else value.strip()
    return headers
