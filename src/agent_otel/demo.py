"""A realistic sample agent, instrumented only with agent-otel's decorators.

A support bot plans with a small model, classifies the ticket with a local ONNX model when
onnxruntime is installed, retrieves context, calls tools concurrently (a web search that is
sometimes slow, a calculator that sometimes fails), and answers with a large model. Model
latency is simulated with sleeps; token counts follow the prompt sizes. Nothing leaves the
machine unless `--stack` sends it to the local collector.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

import agent_otel

log = logging.getLogger("agent_otel.demo")

TICKETS = (
    "refund for order 1042", "password reset loop", "invoice total looks wrong", "shipping to Norway",
    "cancel my subscription", "api rate limit errors", "upgrade plan pricing", "export my data",
)


class Simulated:
    """Seeded latencies and failures, so a demo run is reproducible."""

    def __init__(self, seed: int, slow_factor: float = 1.0) -> None:
        self.rng = random.Random(seed)
        self.slow_factor = slow_factor

    async def sleep(self, lo_ms: float, hi_ms: float) -> None:
        await asyncio.sleep(self.rng.uniform(lo_ms, hi_ms) / 1000 * self.slow_factor)


sim = Simulated(7)


@agent_otel.llm(model="gpt-4o-mini", provider="openai")
async def plan_with_model(ticket: str) -> list[str]:
    await sim.sleep(120, 260)
    agent_otel.record_usage(input_tokens=180 + len(ticket) * 3, output_tokens=sim.rng.randint(40, 90))
    return ["retrieve", "search", "calculate", "answer"]


@agent_otel.inference(model="intent-mlp", system="onnxruntime")
async def classify(features: list[float]) -> int:
    """Intent of a ticket: the local ONNX classifier behind a cache and a dynamic batcher."""
    return await _classifier()(features)


_classify_impl = None


def _classifier():  # type: ignore[no-untyped-def]
    """A tiny real ONNX model through InferenceCache + DynamicBatcher when onnxruntime is there."""
    global _classify_impl
    if _classify_impl is None:
        try:
            import numpy as np
            import onnxruntime as ort

            from agent_otel.optimize import DynamicBatcher, InferenceCache
            from agent_otel.optimize.models import tiny_classifier_bytes

            session = ort.InferenceSession(tiny_classifier_bytes(), providers=["CPUExecutionProvider"])
            batcher = DynamicBatcher(session, max_batch_size=16, max_wait_ms=2, attributes={"gen_ai.request.model": "intent-mlp"})
            cache = InferenceCache(max_entries=1000, ttl_s=300, attributes={"gen_ai.request.model": "intent-mlp"})

            async def run(features: list[float]) -> int:
                feed = {"features": np.asarray(features, dtype=np.float32)}
                probs = cache.get(feed)
                agent_otel.current_span().set_attribute("agent_otel.cache.hit", probs is not None)
                if probs is None:
                    probs = (await batcher.submit(feed))[0]
                    cache.put(feed, probs)
                return int(np.argmax(probs))

            _classify_impl = run
        except ImportError:

            async def rule(features: list[float]) -> int:
                return int(sum(features) > 2)

            _classify_impl = rule
    return _classify_impl


@agent_otel.tool(name="vector_search", description="nearest help-center articles")
async def vector_search(query: str) -> list[str]:
    await sim.sleep(25, 60)
    return [f"kb-{abs(hash(query)) % 97}", f"kb-{abs(hash(query[::-1])) % 97}"]


@agent_otel.tool(name="web_search", description="public web search")
async def web_search(query: str) -> str:
    if sim.rng.random() < 0.12:  # the upstream search API has bad moments
        log.warning("web_search slow upstream for %r", query)
        await sim.sleep(600, 950)
    else:
        await sim.sleep(70, 190)
    return f"results for {query}"


@agent_otel.tool(name="calculator", description="arithmetic on order totals")
async def calculator(expression: str) -> float:
    await sim.sleep(2, 8)
    if sim.rng.random() < 0.15:
        log.error("calculator could not parse %r", expression)
        raise ValueError(f"cannot parse {expression!r}")
    return 42.0


@agent_otel.step("retrieve")
async def retrieve(ticket: str) -> list[str]:
    docs = await vector_search(ticket)
    await sim.sleep(5, 15)  # re-ranking in process
    return docs


@agent_otel.llm(model="gpt-4o", provider="openai")
async def answer_with_model(ticket: str, context: list[str]) -> str:
    await sim.sleep(250, 650)
    agent_otel.record_usage(input_tokens=600 + 120 * len(context), output_tokens=sim.rng.randint(120, 380))
    return f"answer to {ticket}"


@agent_otel.agent(name="support-bot", description="answers customer tickets")
async def handle_ticket(ticket: str) -> str:
    with agent_otel.step("plan") as span:
        steps = await plan_with_model(ticket)
        span.set_attribute("plan.steps", len(steps))
    intent = await classify([len(ticket) / 10, ticket.count(" "), 1.0, 0.5])
    docs = await retrieve(ticket)
    results = await asyncio.gather(web_search(ticket), calculator(f"total({ticket})"), return_exceptions=True)
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        log.warning("ticket %r: %d tool call(s) failed, answering without them", ticket, len(failed))
    return await answer_with_model(ticket, docs + [str(intent)] + [r for r in results if isinstance(r, str)])


async def run_agents(runs: int, concurrency: int) -> int:
    """Handle `runs` tickets, `concurrency` at a time; returns how many were answered."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> bool:
        async with gate:
            try:
                await handle_ticket(TICKETS[i % len(TICKETS)])
                return True
            except Exception:  # noqa: BLE001 - a failed ticket is part of the demo, not a crash
                return False

    done = await asyncio.gather(*(one(i) for i in range(runs)))
    return sum(done)


def run(runs: int = 40, concurrency: int = 8, *, slow_factor: float = 1.0, seed: int = 7) -> tuple[int, int, int]:
    """Run the sample agent in this (already configured) process: (start_ns, end_ns, answered)."""
    global sim
    sim = Simulated(seed, slow_factor)
    global _classify_impl
    _classify_impl = None  # the batcher belongs to the event loop of this run
    start = time.time_ns()
    answered = asyncio.run(run_agents(runs, concurrency))
    agent_otel.force_flush()
    return start, time.time_ns() + 1, answered
