"""A load-generating agent process for the stack tests: paced root spans (+ a log line each) through
the SDK to a collector, with a probe gauge whose value counts metric collections.

    python tests/stack/emit.py ENDPOINT SERVICE SECONDS SPANS_PER_S [--token T] [--queue N]

Prints one JSON line at the end: spans and logs emitted, metric collections, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import psutil
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

import agent_otel


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("service")
    ap.add_argument("seconds", type=float)
    ap.add_argument("rate", type=float)
    ap.add_argument("--token")
    ap.add_argument("--queue", type=int, default=2048)
    args = ap.parse_args()
    agent_otel.configure(args.service, exporter="otlp", endpoint=args.endpoint, token=args.token, metric_interval=1, max_queue_size=args.queue)
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
    while (elapsed := time.monotonic() - t0) < args.seconds:
        due = int(elapsed * args.rate) + 1
        while sent < due:
            with agent_otel.step("tick", attributes={"tick": sent, "second": int(elapsed)}):
                log.info("tick %d", sent)
            sent += 1
        peak_rss = max(peak_rss, proc.memory_info().rss)
        time.sleep(0.01)
    time.sleep(1.5)  # one more metric collection after the last span
    agent_otel.shutdown(timeout_s=15)
    print(json.dumps({"spans": sent, "logs": sent, "collections": collections, "peak_rss_mb": peak_rss / 2**20}))


if __name__ == "__main__":
    main()
