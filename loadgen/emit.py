"""A load-generating agent process for the stack tests: paced root spans (+ a log line each) through
the SDK to a collector, with a probe gauge whose value counts metric collections.

    python loadgen/emit.py ENDPOINT SERVICE SECONDS TRACES_PER_S [--queue N] [--spans-per-trace K]
        [--no-logs] [--error-every N] [--slow-every N --slow-ms MS]

Each trace is a root span with K-1 child steps. Prints one JSON line at the end: traces, spans and
logs emitted, metric collections, peak RSS, and the ids of the traces made to fail or to be slow.
Also the load generator of bench/bench_load.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time

import psutil
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

import agent_otel


def spawn(endpoint: str, service: str, seconds: float, rate: float, *extra: str) -> subprocess.Popen:
    """Start this script as an agent process (the tests' and benches' way to make load)."""
    argv = [sys.executable, __file__, endpoint, service, str(seconds), str(rate), *extra]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def summary(child: subprocess.Popen, timeout: float = 180) -> dict:
    """Wait for a spawned agent process and return its JSON summary; its stderr if it failed."""
    out, err = child.communicate(timeout=timeout)
    if child.returncode != 0:
        raise RuntimeError(f"emit.py exited with {child.returncode}: {err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("service")
    ap.add_argument("seconds", type=float)
    ap.add_argument("rate", type=float)
    ap.add_argument("--queue", type=int, default=None, help="max_queue_size (default: configure()'s)")
    ap.add_argument("--spans-per-trace", type=int, default=1)
    ap.add_argument("--no-logs", action="store_true")
    ap.add_argument("--error-every", type=int, default=0)
    ap.add_argument("--slow-every", type=int, default=0)
    ap.add_argument("--slow-ms", type=float, default=0)
    args = ap.parse_args()
    queue = {} if args.queue is None else {"max_queue_size": args.queue}
    agent_otel.configure(args.service, exporter="otlp", endpoint=args.endpoint, metric_interval=1, **queue)
    logging.getLogger().setLevel(logging.INFO)
    log = logging.getLogger("emit")
    collections = 0

    def probe(_options: CallbackOptions) -> list[Observation]:
        nonlocal collections
        collections += 1
        return [Observation(collections)]

    metrics.get_meter("emit").create_observable_gauge("agent_otel_test.collections", callbacks=[probe])
    proc = psutil.Process()
    sent, peak_rss, t0 = 0, proc.memory_info().rss, time.monotonic()
    failed: list[str] = []
    slow: list[str] = []

    def one_trace(i: int, second: int) -> None:
        with agent_otel.step("tick", attributes={"tick": i, "second": second}) as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            for _ in range(args.spans_per_trace - 1):
                with agent_otel.step("child"):
                    pass
            if not args.no_logs:
                log.info("tick %d", i)
            if args.slow_every and i % args.slow_every == 1:
                time.sleep(args.slow_ms / 1000)
                slow.append(trace_id)
            if args.error_every and i % args.error_every == 0:
                failed.append(trace_id)
                raise RuntimeError("injected failure")

    total = int(args.seconds * args.rate)

    def emit_until(due: int) -> None:
        nonlocal sent
        while sent < min(due, total):
            try:
                one_trace(sent, int(sent / args.rate))  # labelled with the second it was due in, not the catch-up's
            except RuntimeError:
                pass
            sent += 1

    while (elapsed := time.monotonic() - t0) < args.seconds:
        emit_until(int(elapsed * args.rate) + 1)
        peak_rss = max(peak_rss, proc.memory_info().rss)
        time.sleep(0.005)
    emit_until(total)  # the last tick's remainder: exactly rate spans in every second
    time.sleep(1.5)  # one more metric collection after the last span
    agent_otel.shutdown(timeout_s=15)
    print(json.dumps({
        "traces": sent, "spans": sent * args.spans_per_trace, "logs": 0 if args.no_logs else sent, "collections": collections,
        "peak_rss_mb": peak_rss / 2**20, "seconds": time.monotonic() - t0, "failed": failed, "slow": slow,
    }))


if __name__ == "__main__":
    main()
