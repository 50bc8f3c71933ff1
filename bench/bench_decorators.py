"""Hot-path cost of a decorated call against a raw `tracer.start_as_current_span` with the same attributes.

Both run side by side in one process, interleaved, on the same tracer and meter providers (spans
go through a real BatchSpanProcessor into an exporter that drops them; metrics into a reader), so
the ratio is what an app pays for using the decorator instead of hand-written OTel code.
Cases: sampled (the usual), not sampled (sampler says drop) and no providers at all (disabled).

    python bench/bench_decorators.py        # prints the ratios, writes bench/results/decorators.json
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
import timeit
from pathlib import Path

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

N = 20_000
REPEATS = 7


class Drop(SpanExporter):
    def export(self, spans):  # noqa: ANN001
        return SpanExportResult.SUCCESS


class Switch(Sampler):
    """Sample everything or nothing, switchable between cases."""

    on = True

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):  # noqa: ANN001
        return SamplingResult(Decision.RECORD_AND_SAMPLE if self.on else Decision.DROP, attributes)

    def get_description(self) -> str:
        return "switch"


def measure(fn) -> float:  # noqa: ANN001
    """Best of REPEATS runs of N calls, in microseconds per call (wall time in the calling thread)."""
    from agent_otel import instruments

    best = float("inf")
    for _ in range(REPEATS):
        best = min(best, timeit.timeit(fn, number=N))
        instruments.flush()  # what the buffer holds is recorded between runs, not inside them
    return best / N * 1e6


def cpu_per_call(fn) -> float:  # noqa: ANN001
    """Process CPU per call including the deferred metric recording (drained inside the window)."""
    from agent_otel import instruments

    instruments.flush()
    t0 = time.process_time()
    for _ in range(N):
        fn()
    instruments.flush()
    return (time.process_time() - t0) / N * 1e6


def main() -> None:
    sampler = Switch()
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=1_000_000, max_export_batch_size=4096))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))

    import agent_otel  # after the providers: the decorators' proxies resolve to them
    from agent_otel.recorder import default_recorder, make_spec

    tracer = trace.get_tracer("bench")
    results = {}
    for kind, factory, name in (("step", agent_otel.step, "retrieve"), ("tool", agent_otel.tool, "web_search"), ("llm", agent_otel.llm, "gpt-4o")):
        opts = {"provider": "openai"} if kind == "llm" else {}
        decorated = factory(name, **opts)(lambda: None)
        spec = make_spec(kind, name if kind != "llm" else None, {"model": name, **opts} if kind == "llm" else opts)
        attrs = dict(spec.attributes)

        def raw(span_name=spec.span_name, kind_=spec.span_kind, attrs=attrs) -> None:
            with tracer.start_as_current_span(span_name, kind=kind_, attributes=attrs):
                pass

        inst = default_recorder().instruments
        hs = ((inst.duration, dict(spec.own_metric_attrs)),) + (
            ((inst.by_kind[spec.extra["metric_kind"]], dict(spec.conv_metric_attrs)),) if spec.extra["metric_kind"] in inst.by_kind else ()
        )

        def raw_with_metrics(span_name=spec.span_name, kind_=spec.span_kind, attrs=attrs, hs=hs) -> None:
            t0 = time.perf_counter()
            with tracer.start_as_current_span(span_name, kind=kind_, attributes=attrs):
                pass
            for h, m in hs:
                h.record(time.perf_counter() - t0, m)

        for case, sampled in (("sampled", True), ("not_sampled", False)):
            sampler.on = sampled
            pairs = [(measure(raw), measure(decorated)) for _ in range(3)]  # interleaved
            raw_us = statistics.median(p[0] for p in pairs)
            dec_us = statistics.median(p[1] for p in pairs)
            cpu_raw = statistics.median(cpu_per_call(raw) for _ in range(3))
            cpu_dec = statistics.median(cpu_per_call(decorated) for _ in range(3))
            cpu_hand = statistics.median(cpu_per_call(raw_with_metrics) for _ in range(3))
            results[f"{kind}/{case}"] = {
                "raw_us": round(raw_us, 3), "decorated_us": round(dec_us, 3), "ratio": round(dec_us / raw_us, 3),
                "cpu_raw_us": round(cpu_raw, 3), "cpu_decorated_us": round(cpu_dec, 3), "cpu_ratio": round(cpu_dec / cpu_raw, 3),
                "cpu_hand_written_same_metrics_us": round(cpu_hand, 3), "cpu_ratio_vs_hand_written_same_metrics": round(cpu_dec / cpu_hand, 3),
            }
            print(f"{kind:5s} {case:12s} raw {raw_us:6.2f} us  decorated {dec_us:6.2f} us  ratio {dec_us / raw_us:.2f}x"
                  f"   | total CPU incl. deferred metrics: {cpu_raw:6.2f} vs {cpu_dec:6.2f} us = {cpu_dec / cpu_raw:.2f}x; hand-written span+same metrics {cpu_hand:6.2f} us")

    sampler.on = True
    out = {
        "what": "decorated call vs raw start_as_current_span with the same attributes (median of 3 interleaved best-of-7 runs of 20k calls); "
                "ratio = wall time in the calling thread; cpu_ratio = process CPU including the deferred metric recording "
                "(the raw span records no metric at all, the decorated call records agent_otel.duration and the kind's gen_ai histogram)",
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "target_ratio": 1.15,
        "results": results,
    }
    path = Path(__file__).parent / "results" / "decorators.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
