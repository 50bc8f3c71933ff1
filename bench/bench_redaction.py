"""Cost of redaction: a decorated call that logs a line, exported with and without the redacting wrappers.

Both cases run side by side in one process, interleaved, on the same providers: spans and log
records go through real batch processors into exporters that drop them; one switch puts the
redacting wrappers (what `configure()` installs) in front or takes them away. Redaction runs in
the export threads, so two figures: wall time per call in the calling thread (what the traced
code waits) and process CPU per call with the batches exported inside the window (the whole
work, export threads included). Lines: a clean one (the usual) and one holding a secret.

    python bench/bench_redaction.py        # prints the figures, writes bench/results/redaction.json
"""

from __future__ import annotations

import itertools
import json
import logging
import platform
import statistics
import sys
import time
import timeit
from pathlib import Path

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

N = 5_000
REPEATS = 5


class DropSpans(SpanExporter):
    def export(self, spans):  # noqa: ANN001
        return SpanExportResult.SUCCESS


class DropLogs(LogRecordExporter):
    def export(self, batch):  # noqa: ANN001
        return LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        pass


class Switch(SpanExporter, LogRecordExporter):
    """Sends each batch to the plain or the redacting exporter, whichever case runs now."""

    def __init__(self, plain, redacting) -> None:  # noqa: ANN001
        self.plain, self.redacting, self.on = plain, redacting, False

    def export(self, batch):  # noqa: ANN001
        return (self.redacting if self.on else self.plain).export(batch)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def main() -> None:
    from agent_otel import redaction
    from agent_otel.redacting_exporters import RedactingLogExporter, RedactingSpanExporter

    policy = redaction.build()
    spans = Switch(DropSpans(), RedactingSpanExporter(DropSpans(), policy))
    logs = Switch(DropLogs(), RedactingLogExporter(DropLogs(), policy))
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(spans, max_queue_size=100_000, max_export_batch_size=512))
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(logs, max_queue_size=100_000, max_export_batch_size=512))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    set_logger_provider(logger_provider)
    log = logging.getLogger("bench.tool")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(LoggingHandler(logger_provider=logger_provider))

    import agent_otel  # after the providers: the decorators' proxies resolve to them
    from agent_otel import instruments

    lines = {
        "clean_line": ("lookup of %s took %d ms, %d results", ("weather in paris", 3)),
        "line_with_secret": ("lookup of %s with key %s, call %d", ("weather in paris", "sk-proj-Zq8XvT4nW2mK9pL3rB7yC1dF6gH0jA5s")),
    }
    counter = itertools.count()  # every line differs, as real ones do: no help from the memo

    def flush() -> None:
        instruments.flush()
        tracer_provider.force_flush()
        logger_provider.force_flush()

    results = {}
    for case, (fmt, args) in lines.items():
        @agent_otel.tool(name="lookup")
        def call(fmt=fmt, args=args) -> None:
            log.info(fmt, *args[:1], next(counter), *args[1:]) if "took" in fmt else log.info(fmt, *args, next(counter))

        def wall(on: bool) -> float:
            spans.on = logs.on = on
            best = float("inf")
            for _ in range(REPEATS):
                best = min(best, timeit.timeit(call, number=N))
                flush()  # export what piled up between runs, not inside them
            return best / N * 1e6

        def cpu(on: bool) -> float:
            spans.on = logs.on = on
            flush()
            t0 = time.process_time()
            for _ in range(N):
                call()
            flush()  # the batches, redaction included, are exported inside the window
            return (time.process_time() - t0) / N * 1e6

        pairs = [(wall(False), wall(True)) for _ in range(3)]  # interleaved
        cpus = [(cpu(False), cpu(True)) for _ in range(5)]
        off, on = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
        cpu_off, cpu_on = statistics.median(c[0] for c in cpus), statistics.median(c[1] for c in cpus)
        results[case] = {
            "wall_us_without": round(off, 3), "wall_us_with": round(on, 3), "wall_ratio": round(on / off, 3),
            "cpu_us_without": round(cpu_off, 3), "cpu_us_with": round(cpu_on, 3), "cpu_ratio": round(cpu_on / cpu_off, 3),
            "cpu_us_added_per_call": round(cpu_on - cpu_off, 3),
        }
        print(f"{case:17s} wall {off:6.2f} -> {on:6.2f} us/call ({on / off:.2f}x)   "
              f"CPU incl. export {cpu_off:6.2f} -> {cpu_on:6.2f} us/call ({cpu_on / cpu_off:.2f}x, +{cpu_on - cpu_off:.2f} us)")

    spans.on = logs.on = False
    out = {
        "what": "decorated tool call that logs one line (span + log record through batch processors into dropping exporters), "
                "without and with the redacting exporter wrappers configure() installs; wall = calling thread, median of 3 "
                f"interleaved best-of-{REPEATS} runs of {N} calls; cpu = process CPU per call with the batches exported (and "
                "redacted) inside the window, median of 5 interleaved runs",
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "patterns": len(policy.patterns),
        "redactions_counted": redaction.counts(),
        "results": results,
    }
    path = Path(__file__).parent / "results" / "redaction.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
