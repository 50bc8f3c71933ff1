"""One HTTP helper for the backend sources: bounded time and size, and errors that name the backend."""

from __future__ import annotations

from typing import Any

import httpx

from agent_otel.analyzer.sources.base import SourceError

MAX_BODY = 256 * 2**20  # a backend answer larger than this is refused, not buffered


class Backend:
    """A base URL with a client; `get_json` turns every failure into a SourceError naming the backend."""

    def __init__(self, name: str, url: str, *, headers: dict[str, str] | None = None, timeout_s: float = 10.0) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, headers=headers or {}, timeout=httpx.Timeout(timeout_s))

    def get_json(self, path: str, params: dict[str, Any] | None = None, *, none_on_404: bool = False) -> Any:
        where = f"{self.name} at {self.url}{path}"
        try:
            with self._client.stream("GET", path, params=params) as resp:
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > MAX_BODY:
                        raise SourceError(f"{where}: answer larger than {MAX_BODY // 2**20} MiB, refused")
                    chunks.append(chunk)
                body = b"".join(chunks)
        except httpx.TimeoutException:
            raise SourceError(f"{where}: no answer within {self._client.timeout.read}s") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"{where}: {type(exc).__name__}: {exc}") from None
        if resp.status_code == 404 and none_on_404:  # Jaeger's answer for "no traces"
            return None
        if resp.status_code >= 400:
            raise SourceError(f"{where}: HTTP {resp.status_code}: {body[:200].decode('utf-8', 'replace')}")
        try:
            return httpx.Response(200, content=body).json()
        except ValueError as exc:
            raise SourceError(f"{where}: malformed JSON answer ({exc}): {body[:120]!r}") from None

    def close(self) -> None:
        self._client.close()
