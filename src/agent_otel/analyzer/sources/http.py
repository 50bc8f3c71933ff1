"""One HTTP helper for the backend sources: bounded time and size, errors that name the backend,
credentials sent but never shown.

Headers for a backend come from the caller (`--header`) and from AGENT_OTEL_<NAME>_HEADERS
(`key=value,key2=value2`, as OTEL_EXPORTER_OTLP_HEADERS), e.g. AGENT_OTEL_PROMETHEUS_HEADERS=
"Authorization=Bearer ..." or AGENT_OTEL_LOKI_HEADERS="X-Scope-OrgID=team-a". Error messages carry
the URL without its user-info and never a header value.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from agent_otel.analyzer.sources.base import SourceError
from agent_otel import settings
from agent_otel.headers import parse_headers

MAX_BODY = 256 * 2**20  # a backend answer larger than this is refused, not buffered


def redact_url(url: str) -> str:
    """The URL as it may be shown: user-info (basic-auth credentials) replaced by ***."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    return urlunsplit(parts._replace(netloc=f"***@{host}" + (f":{parts.port}" if parts.port else "")))


def env_headers(name: str) -> dict[str, str]:
    var = f"AGENT_OTEL_{name.upper()}_HEADERS"
    raw = settings.raw(var)
    return parse_headers(raw, var, error=SourceError) if raw else {}


class Backend:
    """A base URL with a client; `get_json` turns every failure into a SourceError naming the backend."""

    def __init__(self, name: str, url: str, *, headers: dict[str, str] | None = None, timeout_s: float = 10.0, max_body: int = MAX_BODY) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.shown_url = redact_url(self.url)
        self.timeout_s = timeout_s
        self.max_body = max_body
        parts = urlsplit(self.url)
        auth = httpx.BasicAuth(unquote(parts.username or ""), unquote(parts.password or "")) if parts.username else None
        base = urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))) if auth else self.url
        self._client = httpx.Client(base_url=base, headers={**(headers or {}), **env_headers(name)}, auth=auth, timeout=httpx.Timeout(timeout_s))

    def get_json(self, path: str, params: dict[str, Any] | None = None, *, none_on_404: bool = False) -> Any:
        where = f"{self.name} at {self.shown_url}{path}"
        deadline = time.monotonic() + self.timeout_s  # for the whole answer: a trickling body is cut off too
        try:
            with self._client.stream("GET", path, params=params) as resp:
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > self.max_body:
                        raise SourceError(f"{where}: answer larger than {self.max_body:,} bytes, refused")
                    if time.monotonic() > deadline:
                        raise SourceError(f"{where}: answer not complete within {self.timeout_s}s")
                    chunks.append(chunk)
                body = b"".join(chunks)
        except httpx.TimeoutException:
            raise SourceError(f"{where}: no answer within {self.timeout_s}s") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"{where}: {type(exc).__name__}") from None
        if resp.status_code == 404 and none_on_404:  # Jaeger's answer for "no traces"
            return None
        if resp.status_code in (401, 403):
            raise SourceError(f"{where}: HTTP {resp.status_code}: credentials missing or refused (set AGENT_OTEL_{self.name.upper()}_HEADERS or --header)")
        if resp.status_code >= 400:
            raise SourceError(f"{where}: HTTP {resp.status_code}: {body[:200].decode('utf-8', 'replace')}")
        try:
            return httpx.Response(200, content=body).json()
        except ValueError as exc:
            raise SourceError(f"{where}: malformed JSON answer ({exc}): {body[:120]!r}") from None

    def close(self) -> None:
        self._client.close()
