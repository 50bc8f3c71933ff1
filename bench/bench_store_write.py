"""The local store's write path, CPU per span, before and after the per-minute summaries, side by
side in one run: the same SDK spans (agent runs of 5 spans with the GenAI attributes the
decorators set) exported by `LocalSpanExporter` in batches of 512 (the BatchSpanProcessor's size)
into a fresh store, the store closed (so every summary is written), CPU time of all threads.
"Before" is the package at `--before` (a git revision), loaded in a subprocess like "now";
the two alternate for `--rounds` rounds and the medians are compared.

    python bench/bench_store_write.py [--before f8aae86] [--spans 50000]   # -> bench/results/store_write.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys, tempfile, time
from pathlib import Path
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from agent_otel.localstore import open_exporters

n = int(sys.argv[1])
spans = []
class Keep(SpanExporter):
    def export(self, batch):
        spans.extend(batch)
        return SpanExportResult.SUCCESS
provider = TracerProvider(resource=Resource({"service.name": "support-bot"}))
provider.add_span_processor(SimpleSpanProcessor(Keep()))
tracer = provider.get_tracer("bench")
for i in range(n // 5):
    agent = f"agent-{i % 100:03d}"
    with tracer.start_as_current_span("invoke_agent " + agent, attributes={"agent_otel.kind": "agent", "agent_otel.name": agent, "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent}):
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes={"agent_otel.kind": "llm", "agent_otel.name": "gpt-4o-mini", "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 200, "gen_ai.usage.output_tokens": 50}):
            pass
        with tracer.start_as_current_span("retrieve", attributes={"agent_otel.kind": "step", "agent_otel.name": "retrieve"}):
            with tracer.start_as_current_span("execute_tool web_search", attributes={"agent_otel.kind": "tool", "agent_otel.name": "web_search", "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "web_search"}):
                pass
        with tracer.start_as_current_span("chat gpt-4o", attributes={"agent_otel.kind": "llm", "agent_otel.name": "gpt-4o", "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 900, "gen_ai.usage.output_tokens": 300}):
            pass
with tempfile.TemporaryDirectory() as d:
    ex = open_exporters(Path(d) / "w.db")
    t = time.process_time()
    for i in range(0, len(spans), 512):
        ex.spans.export(spans[i : i + 512])
    ex.spans.shutdown()
    ex.store.close()
    print((time.process_time() - t) / len(spans) * 1e6)
"""


def run(src: Path, n: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(n)], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="f8aae86", help="git revision of the code before summaries")
    ap.add_argument("--spans", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default="store_write.json", help="result file name under bench/results")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        archive = Path(d) / "before.tar"
        subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), args.before, "src/agent_otel"], check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(d)
        before_src, now_src = Path(d) / "src", ROOT / "src"
        before, now = [], []
        for r in range(args.rounds):
            pair = [("before", before_src), ("now", now_src)]
            for name, src in (pair if r % 2 == 0 else pair[::-1]):
                (before if name == "before" else now).append(run(src, args.spans))
            print(f"round {r + 1}: before {before[-1]:.2f} us/span, now {now[-1]:.2f} us/span", flush=True)
    result = {
        "what": "CPU (all threads) per span of LocalSpanExporter.export in 512-span batches + close, SDK spans of 5-span agent runs, "
                "before (the package at before_revision; f8aae86: no summaries) and now, alternating subprocesses",
        "before_revision": args.before, "spans": args.spans, "rounds": args.rounds,
        "before_us_per_span": round(statistics.median(before), 3), "now_us_per_span": round(statistics.median(now), 3),
        "now_over_before": round(statistics.median(now) / statistics.median(before), 3),
        "load_average_1m": round(os.getloadavg()[0], 2), "all_rounds": {"before": [round(v, 2) for v in before], "now": [round(v, 2) for v in now]},
    }
    (ROOT / "bench" / "results" / args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
