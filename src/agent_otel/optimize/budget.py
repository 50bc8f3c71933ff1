"""Per-agent resource budgets with admission control: concurrent calls, tokens per minute, GPU memory.

    budgets = Budgets({"support-bot": Budget(concurrent=4, tokens_per_minute=60_000, gpu_memory_bytes=2 * 2**30)})
    async with budgets.admit("support-bot", tokens=1200, gpu_memory_bytes=512 * 2**20):
        ...   # the model call

`mode="wait"` (default) queues an admission until the budget has room (up to `max_wait_s`, then
rejects); `mode="reject"` refuses at once with `BudgetExceeded`. Waits and rejections are
metrics; `recommendations()` turns the observed peaks into budget advice.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

from agent_otel.optimize.telemetry import instrument
from agent_otel.errors import BudgetExceeded  # noqa: F401  (re-exported)


@dataclass
class Budget:
    concurrent: int | None = None
    tokens_per_minute: int | None = None
    gpu_memory_bytes: int | None = None
    mode: Literal["wait", "reject"] = "wait"
    max_wait_s: float = 30.0


@dataclass
class _Usage:
    active: int = 0
    gpu: int = 0
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    peak_active: int = 0
    peak_gpu: int = 0
    peak_tokens_per_minute: int = 0
    admitted: int = 0
    waited: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    def tokens_last_minute(self, now: float) -> int:
        while self.tokens and now - self.tokens[0][0] > 60:
            self.tokens.popleft()
        return sum(n for _, n in self.tokens)


class Budgets:
    def __init__(self, budgets: dict[str, Budget]) -> None:
        for agent, b in budgets.items():
            for name in ("concurrent", "tokens_per_minute", "gpu_memory_bytes"):
                value = getattr(b, name)
                if value is not None and value <= 0:
                    raise ValueError(f"budget of {agent!r}: {name} must be positive, got {value}")
            if b.mode not in ("wait", "reject"):
                raise ValueError(f"budget of {agent!r}: mode must be 'wait' or 'reject', got {b.mode!r}")
        self.budgets = budgets
        self._usage: dict[str, _Usage] = {a: _Usage() for a in budgets}
        self._changed = asyncio.Condition()

    def _blocking(self, agent: str, tokens: int, gpu: int) -> str | None:
        b, u = self.budgets[agent], self._usage[agent]
        if b.concurrent is not None and u.active + 1 > b.concurrent:
            return "concurrent"
        if b.tokens_per_minute is not None and u.tokens_last_minute(time.monotonic()) + tokens > b.tokens_per_minute:
            return "tokens_per_minute"
        if b.gpu_memory_bytes is not None and u.gpu + gpu > b.gpu_memory_bytes:
            return "gpu_memory"
        return None

    def _reject(self, agent: str, resource: str) -> BudgetExceeded:
        u = self._usage[agent]
        u.rejected[resource] = u.rejected.get(resource, 0) + 1
        instrument("agent_otel.budget.rejections").add(1, {"gen_ai.agent.name": agent, "agent_otel.budget.resource": resource})
        limit = {"concurrent": self.budgets[agent].concurrent, "tokens_per_minute": self.budgets[agent].tokens_per_minute,
                 "gpu_memory": self.budgets[agent].gpu_memory_bytes}[resource]
        return BudgetExceeded(f"agent {agent!r}: {resource} budget of {limit} exhausted")

    @asynccontextmanager
    async def admit(self, agent: str, *, tokens: int = 0, gpu_memory_bytes: int = 0) -> AsyncIterator[None]:
        if agent not in self.budgets:
            yield  # no budget for this agent: no limit
            return
        b, u = self.budgets[agent], self._usage[agent]
        if b.gpu_memory_bytes is not None and gpu_memory_bytes > b.gpu_memory_bytes:
            raise self._reject(agent, "gpu_memory")
        if b.tokens_per_minute is not None and tokens > b.tokens_per_minute:
            raise self._reject(agent, "tokens_per_minute")
        async with self._changed:
            blocked = self._blocking(agent, tokens, gpu_memory_bytes)
            if blocked:
                if b.mode == "reject":
                    raise self._reject(agent, blocked)
                u.waited += 1
                instrument("agent_otel.budget.waits").add(1, {"gen_ai.agent.name": agent, "agent_otel.budget.resource": blocked})
                t0 = time.monotonic()
                try:
                    await asyncio.wait_for(self._changed.wait_for(lambda: self._blocking(agent, tokens, gpu_memory_bytes) is None), b.max_wait_s)
                except asyncio.TimeoutError:
                    raise self._reject(agent, blocked) from None
                finally:
                    instrument("agent_otel.budget.wait_time").record(time.monotonic() - t0, {"gen_ai.agent.name": agent})
            now = time.monotonic()
            u.active += 1
            u.gpu += gpu_memory_bytes
            if tokens:
                u.tokens.append((now, tokens))
            u.admitted += 1
            u.peak_active = max(u.peak_active, u.active)
            u.peak_gpu = max(u.peak_gpu, u.gpu)
            u.peak_tokens_per_minute = max(u.peak_tokens_per_minute, u.tokens_last_minute(now))
        try:
            yield
        finally:
            async with self._changed:
                u.active -= 1
                u.gpu -= gpu_memory_bytes
                self._changed.notify_all()

    def recommendations(self) -> list[str]:
        """Advice from observed use: budgets that throttle often, and budgets far above use."""
        out = []
        for agent, b in self.budgets.items():
            u = self._usage[agent]
            total = u.admitted + sum(u.rejected.values())
            if not total:
                continue
            for resource, n in u.rejected.items():
                out.append(f"{agent}: {n / total:.0%} of calls rejected on {resource}; raise that budget or slow the callers.")
            if u.waited / total >= 0.2:
                out.append(f"{agent}: {u.waited / total:.0%} of calls waited for a budget; peak concurrency {u.peak_active} of {b.concurrent}.")
            if b.concurrent and u.peak_active <= b.concurrent / 4 and not u.waited:
                out.append(f"{agent}: peak concurrency {u.peak_active} of a budget of {b.concurrent}; the budget could be {max(u.peak_active * 2, 1)}.")
            if b.tokens_per_minute and u.peak_tokens_per_minute <= b.tokens_per_minute / 4:
                out.append(f"{agent}: peak {u.peak_tokens_per_minute} tokens/min of a budget of {b.tokens_per_minute}.")
        return out
