"""Hot-path cost of a decorated call against a raw `tracer.start_as_current_span` with the same attributes.

Two setups, each in its own process (the global providers can be set once per process), every
kind (step, tool, agent, llm, inference); raw span and decorated call run interleaved on the same
providers, so each ratio comes from one run on one machine state:

  a. no MeterProvider (issue 15's figure): a TracerProvider with a BatchSpanProcessor into an
     exporter that drops; wall time and CPU time of the calling thread (and CPU of all threads),
     sampled and not-sampled spans.
  b. the providers `configure()` installs (issue 20's figure): its MeterProvider (periodic reader,
     SDK-internal processor metrics), its TracerProvider and BatchSpanProcessor, its redacting
     exporter wrappers, with the exporters replaced by ones that drop; wall time and CPU time of the
     calling thread, and CPU of all threads (`process_time`) over a chunk of calls plus what they
     left to do: the metric drain, a metric collection + export, the span export. The raw
     span records no metric; `hand_written_same_metrics` is a raw span plus the same histograms
     recorded by hand with `Histogram.record`.

In both, raw and decorated run in PAIRS_B (30) pairs of CHUNK-call chunks, ABBA order, each chunk's
leftovers flushed inside it; each ratio is the median of the per-pair ratios (a pair runs within
~0.2 s, so the shared machine's load changes cancel out of it).

    BENCH_DECORATORS_CHUNK / _CHUNK / _PAIRS / _KINDS change the sizes and the kinds measured.

    python bench/bench_decorators.py        # prints the ratios, writes bench/results/decorators.json
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CHUNK = int(os.environ.get("BENCH_DECORATORS_CHUNK", "2000"))  # calls per chunk
PAIRS_B = int(os.environ.get("BENCH_DECORATORS_PAIRS", "30"))  # interleaved chunk pairs per kind and case
KINDS = tuple(os.environ.get("BENCH_DECORATORS_KINDS", "step,tool,agent,llm,inference").split(","))


def _decorated_and_raw(kind: str, tracer):  # noqa: ANN001, ANN202
    import agent_otel
    from agent_otel.recorder import make_spec

    factory, name, opts = {
        "step": (agent_otel.step, "retrieve", {}),
        "tool": (agent_otel.tool, "web_search", {}),
        "agent": (agent_otel.agent, "planner", {}),
        "llm": (agent_otel.llm, "gpt-4o", {"provider": "openai"}),
        "inference": (agent_otel.inference, "classifier", {"batch_size": 1}),
    }[kind]
    decorated = factory(name, **opts)(lambda: None)
    model_kind = kind in ("llm", "inference")
    spec = make_spec(kind, None if model_kind else name, {"model": name, **opts} if model_kind else opts)
    attrs = dict(spec.attributes)

    def raw(span_name=spec.span_name, kind_=spec.span_kind, attrs=attrs) -> None:
        with tracer.start_as_current_span(span_name, kind=kind_, attributes=attrs):
            pass

    return decorated, raw, spec


def setup_a() -> dict:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    class Drop(SpanExporter):
        def export(self, spans):  # noqa: ANN001
            return SpanExportResult.SUCCESS

    class Switch(Sampler):
        on = True

        def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):  # noqa: ANN001
            return SamplingResult(Decision.RECORD_AND_SAMPLE if self.on else Decision.DROP, attributes)

        def get_description(self) -> str:
            return "switch"

    sampler = Switch()
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=1_000_000, max_export_batch_size=4096))
    trace.set_tracer_provider(provider)  # no MeterProvider: the metrics API is the no-op proxy
    from agent_otel import instruments

    def flush() -> None:
        instruments.flush()
        provider.force_flush()

    tracer = trace.get_tracer("bench")
    out = {}
    for kind in KINDS:
        decorated, raw, _ = _decorated_and_raw(kind, tracer)
        for case, sampled in (("sampled", True), ("not_sampled", False)):
            sampler.on = sampled
            row = out[f"{kind}/{case}"] = paired_per_call(raw, decorated, flush)
            print(f"a {kind:9s} {case:11s} caller wall raw {row['raw_us']:6.2f} us  decorated {row['decorated_us']:6.2f} us  ratio {row['ratio']:.3f}"
                  f"  | caller CPU {row['caller_cpu_raw_us']:6.2f} vs {row['caller_cpu_decorated_us']:6.2f} = {row['caller_cpu_ratio']:.3f}x", flush=True)
        sampler.on = True
    return out


def paired_per_call(raw, dec, flush, chunk: int = CHUNK, pairs: int = PAIRS_B) -> dict:  # noqa: ANN001
    """Raw and decorated in many short interleaved chunks (ABBA order), each chunk's leftovers flushed inside it.

    Per chunk: wall time and CPU time of the calling thread, and CPU of all threads (process_time)
    including the flush of what the chunk left to do (metric drain, a collection + export, the
    span export). Each figure's ratio is the median of the per-pair ratios: the two chunks of a
    pair run ~0.1 s apart, so a shared machine's load changes cancel out of the ratio, where
    medians of long runs taken seconds apart carry them in.
    """
    rows: dict[str, list[float]] = {k: [] for k in ("wall_raw", "wall_dec", "cpu_raw", "cpu_dec", "all_raw", "all_dec")}
    for i in range(pairs):
        order = (("raw", raw), ("dec", dec)) if i % 2 == 0 else (("dec", dec), ("raw", raw))
        for name, fn in order:
            flush()
            gc.collect()
            p0, c0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
            for _ in range(chunk):
                fn()
            w1, c1 = time.perf_counter(), time.thread_time()
            flush()
            p1 = time.process_time()
            rows[f"wall_{name}"].append((w1 - w0) / chunk * 1e6)
            rows[f"cpu_{name}"].append((c1 - c0) / chunk * 1e6)
            rows[f"all_{name}"].append((p1 - p0) / chunk * 1e6)

    def ratio(fig: str) -> float:
        return statistics.median(d / r for d, r in zip(rows[f"{fig}_dec"], rows[f"{fig}_raw"]) if r > 0)

    med = {k: statistics.median(v) for k, v in rows.items()}
    return {
        "raw_us": round(med["wall_raw"], 3), "decorated_us": round(med["wall_dec"], 3), "ratio": round(ratio("wall"), 3),
        "caller_cpu_raw_us": round(med["cpu_raw"], 3), "caller_cpu_decorated_us": round(med["cpu_dec"], 3),
        "caller_cpu_ratio": round(ratio("cpu"), 3),
        "cpu_raw_us": round(med["all_raw"], 3), "cpu_decorated_us": round(med["all_dec"], 3), "cpu_ratio": round(ratio("all"), 3),
    }


def setup_b() -> dict:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    import agent_otel
    from agent_otel import config, instruments
    from agent_otel.recorder import default_recorder

    class DropSpans(SpanExporter):
        def export(self, spans):  # noqa: ANN001
            return SpanExportResult.SUCCESS

    class DropMetrics(MetricExporter):
        def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs):  # noqa: ANN001, ANN003
            return MetricExportResult.SUCCESS

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return True

        def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:  # noqa: ANN003
            pass

    drops = {"traces": DropSpans(), "metrics": DropMetrics(), "logs": None}
    config._exporter = lambda signal, *args: drops[signal]  # everything configure() builds, minus the network
    agent_otel.configure("bench", exporter="console", max_queue_size=1_000_000)
    tp, mp = trace.get_tracer_provider(), metrics.get_meter_provider()

    def flush() -> None:
        instruments.flush()
        tp.force_flush()
        mp.force_flush()  # a collection + export, as the periodic reader does

    tracer = trace.get_tracer("bench")
    out = {}
    for kind in KINDS:
        decorated, raw, spec = _decorated_and_raw(kind, tracer)
        decorated()
        inst = default_recorder().instruments
        conv = inst.by_kind.get(spec.metric_kind)
        hs = ((inst.duration, dict(spec.own_metric_attrs)),) + (((conv, dict(spec.conv_metric_attrs)),) if conv is not None else ())

        def hand_written(span_name=spec.span_name, kind_=spec.span_kind, attrs=dict(spec.attributes), hs=hs) -> None:
            t0 = time.perf_counter()
            with tracer.start_as_current_span(span_name, kind=kind_, attributes=attrs):
                pass
            elapsed = time.perf_counter() - t0
            for h, m in hs:
                h.record(elapsed, m)

        row = out[f"{kind}/sampled"] = paired_per_call(raw, decorated, flush)
        row["cpu_hand_written_same_metrics_ratio"] = paired_per_call(raw, hand_written, flush, pairs=6)["cpu_ratio"]
        print(f"b {kind:9s} sampled     caller wall {row['raw_us']:6.2f} vs {row['decorated_us']:6.2f} us = {row['ratio']:.3f}x"
              f"  caller CPU {row['caller_cpu_raw_us']:6.2f} vs {row['caller_cpu_decorated_us']:6.2f} = {row['caller_cpu_ratio']:.3f}x"
              f"  | CPU all threads {row['cpu_raw_us']:6.2f} vs {row['cpu_decorated_us']:6.2f} = {row['cpu_ratio']:.3f}x"
              f" (span + same metrics by hand {row['cpu_hand_written_same_metrics_ratio']:.3f}x)", flush=True)
    agent_otel.shutdown()
    return out


def _child(setup: str) -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, __file__, "--setup", setup], env=env, stdout=subprocess.PIPE, text=True, check=True)
    lines = proc.stdout.splitlines()
    for line in lines[:-1]:
        print(line)
    return json.loads(lines[-1])


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--setup":
        result = setup_a() if sys.argv[2] == "a" else setup_b()
        print(json.dumps(result))
        return
    load_before = os.getloadavg()
    started = time.time()
    a = _child("a")
    b = _child("b")
    out = {
        "what": "decorated call vs raw start_as_current_span with the same attributes, every kind, interleaved in one process per setup. "
                "a_no_meter_provider (issue 15): ratio = wall time in the calling thread, caller_cpu_ratio = CPU time of the calling thread "
                "(the load-proof view of it on a busy machine), cpu_ratio = CPU of all threads incl. the span export; measured as in b. "
                "b_configure_metrics (issue 20): the providers configure() installs, exporters replaced by ones that drop; ratio = wall time "
                "and caller_cpu_ratio = CPU time of the calling thread, cpu_ratio = CPU of all threads per call incl. the metric drain, a "
                "collection + export and the span export done inside each chunk; raw and decorated in `pairs` pairs of `chunk`-call "
                "chunks (ABBA order), each ratio the median of the per-pair ratios, each time the median of the chunks. The raw span "
                "records no metric; cpu_hand_written_same_metrics_ratio: a raw span plus the same histograms by Histogram.record.",
        "chunk": CHUNK,
        "pairs": PAIRS_B,
                "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1_5_15_before": [round(x, 2) for x in load_before],
        "load_average_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        "seconds": round(time.time() - started, 1),
        "target_ratio": 1.15,
        "a_no_meter_provider": a,
        "b_configure_metrics": b,
    }
    path = Path(__file__).parent / "results" / "decorators.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"load average before {out['load_average_1_5_15_before']} after {out['load_average_1_5_15_after']}; wrote {path}")


if __name__ == "__main__":
    main()
