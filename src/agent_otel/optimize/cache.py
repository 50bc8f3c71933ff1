"""`InferenceCache`: exact-match result cache (LRU, TTL, bounded), with hit/miss metrics.

    cache = InferenceCache(max_entries=10_000, ttl_s=300)
    outputs = cache.get_or_run(feed, lambda: session.run(None, feed))

The key hashes every input's name, dtype, shape and bytes, so equal arrays hit and anything
else misses.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from agent_otel.optimize.telemetry import instrument


def key_of(feed: dict[str, Any]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(feed):
        arr = np.ascontiguousarray(feed[name])
        h.update(name.encode())
        h.update(str(arr.dtype).encode())
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


class InferenceCache:
    def __init__(self, *, max_entries: int = 10_000, ttl_s: float = 300.0, attributes: dict[str, Any] | None = None) -> None:
        if max_entries < 1 or ttl_s <= 0:
            raise ValueError(f"InferenceCache: max_entries must be >= 1 and ttl_s > 0, got {max_entries}, {ttl_s}")
        self.max_entries, self.ttl_s = max_entries, ttl_s
        self.attributes = attributes or {}
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, feed: dict[str, Any]) -> Any | None:
        key = key_of(feed)
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and time.monotonic() - entry[0] < self.ttl_s:
                self._data.move_to_end(key)
                self.hits += 1
                result = entry[1]
            else:
                if entry is not None:
                    del self._data[key]
                self.misses += 1
                result = None
        instrument("agent_otel.cache.requests").add(1, {**self.attributes, "agent_otel.cache.result": "hit" if result is not None else "miss"})
        return result

    def put(self, feed: dict[str, Any], value: Any) -> None:
        key = key_of(feed)
        with self._lock:
            self._data[key] = (time.monotonic(), value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def get_or_run(self, feed: dict[str, Any], run: Callable[[], Any]) -> Any:
        cached = self.get(feed)
        if cached is not None:
            return cached
        value = run()
        self.put(feed, value)
        return value

    def __len__(self) -> int:
        return len(self._data)
