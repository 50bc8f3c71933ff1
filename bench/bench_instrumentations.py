"""Per-call cost of the provider instrumentations, side by side with the bare client call.

The real OpenAI and Anthropic clients answer from an in-process HTTP transport (httpx2's
MockTransport, canned bodies in the providers' wire formats), so a call's time is the client
library's own work plus the instrumentation's, with no network or server noise. Variants, measured
in rounds so each round sees the same machine state:

- bare: no instrumentation (the Anthropic SDK still traces itself: that is its default)
- official: the official OpenTelemetry GenAI instrumentation alone
- agent-otel: `agent_otel.instrument([...])` (the official one plus agent-otel's layer: stream usage for
  OpenAI, no duplicate SDK span for Anthropic)
- agent-otel + @llm: the call inside an `@agent_otel.llm` function (one span: the decorator's, enriched)

Spans go through a real BatchSpanProcessor into an exporter that drops them; metrics into a reader.
Figures are process CPU time per call (see `measure`), the median over many short shuffled rounds.

    python bench/bench_instrumentations.py   # prints the table, writes bench/results/instrumentations.json
"""

from __future__ import annotations

import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import httpx2
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

N = 40
ROUNDS = 25  # short blocks, many rounds, variant order shuffled per round: load drift on a shared machine hits all alike
MSGS = [{"role": "user", "content": "hello"}]


class Drop(SpanExporter):
    def export(self, spans):  # noqa: ANN001
        return SpanExportResult.SUCCESS


def _sse(events: list[tuple[str | None, dict | str]]) -> bytes:
    return "".join((f"event: {n}\n" if n else "") + f"data: {d if isinstance(d, str) else json.dumps(d)}\n\n" for n, d in events).encode()


def openai_transport() -> httpx2.MockTransport:
    chat = json.dumps({"id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-4o-2024-08-06",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}).encode()
    base = {"id": "c2", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-2024-08-06"}

    def stream(include_usage: bool) -> bytes:
        events = [(None, {**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}) for w in ("Hel", "lo", "!")]
        events.append((None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
        if include_usage:
            events.append((None, {**base, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}))
        return _sse([*events, (None, "[DONE]")])

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        if body.get("stream"):
            return httpx2.Response(200, headers={"content-type": "text/event-stream"},
                                   content=stream(bool((body.get("stream_options") or {}).get("include_usage"))))
        return httpx2.Response(200, headers={"content-type": "application/json"}, content=chat)

    return httpx2.MockTransport(handler)


def anthropic_transport() -> httpx2.MockTransport:
    msg = json.dumps({"id": "m1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
                      "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn", "stop_sequence": None,
                      "usage": {"input_tokens": 25, "output_tokens": 4}}).encode()
    stream = _sse([
        ("message_start", {"type": "message_start", "message": {"id": "m2", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
                                                                 "content": [], "stop_reason": None, "stop_sequence": None,
                                                                 "usage": {"input_tokens": 30, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 7}}),
        ("message_stop", {"type": "message_stop"}),
    ])

    def handler(request: httpx2.Request) -> httpx2.Response:
        if json.loads(request.content).get("stream"):
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=stream)
        return httpx2.Response(200, headers={"content-type": "application/json"}, content=msg)

    return httpx2.MockTransport(handler)


def measure(fn) -> float:  # noqa: ANN001
    """Process CPU time per call of N calls, in microseconds, including the span export thread's and the
    deferred metric recording's share. CPU time, not wall time: on a shared, loaded machine the other
    processes' load changes wall time by more than the instrumentation costs."""
    from agent_otel import instruments

    instruments.flush()
    t0 = time.process_time()
    for _ in range(N):
        fn()
    instruments.flush()
    return (time.process_time() - t0) / N * 1e6


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=1_000_000, max_export_batch_size=4096))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))

    import anthropic
    import openai
    from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor as OfficialAnthropic
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor as OfficialOpenAI

    import agent_otel
    from agent_otel.instrumentation import instrument, uninstrument

    oai = openai.OpenAI(api_key="k", base_url="http://mock/v1", max_retries=0, http_client=httpx2.Client(transport=openai_transport()))
    claude = anthropic.Anthropic(api_key="k", base_url="http://mock", max_retries=0, http_client=httpx2.Client(transport=anthropic_transport()))

    calls = {
        "openai/chat": ("openai", OfficialOpenAI, lambda: oai.chat.completions.create(model="gpt-4o", messages=MSGS)),
        "openai/stream": ("openai", OfficialOpenAI, lambda: list(oai.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True))),
        "anthropic/chat": ("anthropic", OfficialAnthropic, lambda: claude.messages.create(model="claude-sonnet-4", max_tokens=10, messages=MSGS)),
        "anthropic/stream": ("anthropic", OfficialAnthropic,
                             lambda: list(claude.messages.create(model="claude-sonnet-4", max_tokens=10, messages=MSGS, stream=True))),
    }
    results = {}
    for case, (name, official, call) in calls.items():
        decorated = agent_otel.llm(model="gpt-4o" if name == "openai" else "claude-sonnet-4")(call)
        variants = {
            "bare": (lambda: None, lambda: None, call),
            "official": (lambda o=official: o().instrument(), lambda o=official: o().uninstrument(), call),
            "agent_otel": (lambda n=name: instrument([n]), lambda n=name: uninstrument([n]), call),
            "agent_otel_llm": (lambda n=name: instrument([n]), lambda n=name: uninstrument([n]), decorated),
        }
        rounds: dict[str, list[float]] = {v: [] for v in variants}
        for _ in range(ROUNDS):
            for variant in random.sample(list(variants), len(variants)):
                on, off, fn = variants[variant]
                on()
                try:
                    fn()  # warm
                    rounds[variant].append(measure(fn))
                finally:
                    off()
        med = {v: statistics.median(r) for v, r in rounds.items()}
        bare = med["bare"]
        results[case] = {
            **{f"{v}_cpu_us": round(t, 1) for v, t in med.items()},
            **{f"{v}_overhead_us": round(t - bare, 1) for v, t in med.items() if v != "bare"},
            **{f"{v}_ratio": round(t / bare, 3) for v, t in med.items() if v != "bare"},
            "spread_iqr_us": {v: round(float(statistics.quantiles(r, n=4)[2] - statistics.quantiles(r, n=4)[0]), 1) for v, r in rounds.items()},
        }
        print(f"{case:17s} bare {bare:7.1f} us | " + " | ".join(f"{v} {t:7.1f} us (+{t - bare:5.1f}, {t / bare:.2f}x)" for v, t in med.items() if v != "bare"))

    out = {
        "what": "per-call process CPU time (span export and metric recording included) of the real client (in-process mock HTTP "
                f"transport) bare vs instrumented; median over {ROUNDS} rounds (variant order shuffled per round) of {N} calls; the "
                "Anthropic 'bare' call includes the SDK's own default tracing (skipped under agent-otel inside a model call); the "
                "agent_otel OpenAI stream also parses the usage chunk it asked for",
        "load_average_at_start": _load(),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "versions": {d: _version(d) for d in ("openai", "anthropic", "opentelemetry-instrumentation-genai-openai",
                                              "opentelemetry-instrumentation-genai-anthropic", "opentelemetry-util-genai")},
        "results": results,
    }
    path = Path(__file__).parent / "results" / "instrumentations.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


def _load() -> list[float]:
    import os

    return [round(x, 2) for x in os.getloadavg()]


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


if __name__ == "__main__":
    main()
