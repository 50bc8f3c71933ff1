"""Monitoring latency: from a decorated call's return until each backend's query API answers with its
telemetry, default `configure()` through the real collector; and until the local store has it.

For every probe an agent process makes one decorated call with a unique name (and one log line in
it) and prints the moment it returned; this process then polls, every POLL_S, Jaeger for the span
(by trace id), Loki for the log line, Prometheus for the SDK's duration metric
(`agent_otel_duration_seconds_count`) and for the collector's spanmetrics of that span; each
latency is the time the answering response arrived minus the call's return.

Two kinds of call: `root` (an agent run: the decorated call is the root span) and `child` (a tool
call inside an agent run that stays open, so no root span ends). Side by side in the same run, on
the same Jaeger/Prometheus/Loki: the shipped defaults (agent processes with nothing set, the stack's
collector) and the old ones (OTEL_BSP_SCHEDULE_DELAY=5000, OTEL_BLRP_SCHEDULE_DELAY=1000,
OTEL_METRIC_EXPORT_INTERVAL=10000, no early flush; a second collector with a 1 s batch flush
and 5 s spanmetrics flush). Jaeger runs once, without the batch processor it had (that one held
spans up to 200 ms more in the old setup). Probes run one at a time, old and new interleaved.
The load average is recorded before and after: the machine is shared.

    flock /tmp/agent-otel-stack.lock python bench/bench_freshness.py   # -> bench/results/freshness.json
    python bench/bench_freshness.py --local-only                      # the local store part, no stack
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.02
OLD_ENV = {"OTEL_BSP_SCHEDULE_DELAY": "5000", "OTEL_BLRP_SCHEDULE_DELAY": "1000", "OTEL_METRIC_EXPORT_INTERVAL": "10000",
           "AGENT_OTEL_EARLY_FLUSH": "false"}
OLD_COLLECTOR_ENV = {"AGENT_OTEL_BATCH_FLUSH_TIMEOUT": "1s", "AGENT_OTEL_SPANMETRICS_FLUSH_INTERVAL": "5s"}
TARGETS_MS = {"jaeger": {"p50": 200, "p99": 500}, "loki": {"p50": 200, "p99": 500}, "prometheus_sdk_metric": {"p50": 1000},
              "local_store": {"max": 200}}

AGENT = r"""
import json, logging, sys, time
import agent_otel
mode, service, exporter, target = sys.argv[1:5]
if exporter == "local":
    agent_otel.configure(service, exporter="local", store_path=target)
else:
    agent_otel.configure(service, exporter="otlp", endpoint=target)
log = logging.getLogger("probe"); log.setLevel(logging.INFO)
session = agent_otel.agent("session") if mode == "child" else None
if session is not None:
    session.__enter__()
print("READY", flush=True)
for line in sys.stdin:
    probe = line.strip()
    if not probe:
        break
    cm = agent_otel.agent(probe) if mode == "root" else agent_otel.tool(probe)
    with cm as span:
        log.info("probe %s", probe)
        ctx = span.get_span_context()
    end = time.time()
    print(json.dumps({"end": end, "trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x")}), flush=True)
if session is not None:
    session.__exit__(None, None, None)
agent_otel.shutdown()
"""


class Agent:
    """One agent process; `call(name)` makes one decorated call there and returns its ids and end time."""

    def __init__(self, mode: str, service: str, exporter: str, target: str, env: dict[str, str]) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
        self.proc = subprocess.Popen([sys.executable, "-c", AGENT, mode, service, exporter, target], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env={**clean, "PYTHONPATH": str(ROOT / "src"), **env})
        assert self.proc.stdout.readline().strip() == "READY"
        self.service, self.mode = service, mode

    def call(self, name: str) -> dict:
        self.proc.stdin.write(name + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=30)


def wait_until(check: Callable[[], bool], end: float, timeout_s: float) -> float | None:
    """Seconds from `end` until check() first held (the answer's arrival), or None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return time.time() - end
        except (httpx.HTTPError, KeyError, ValueError, IndexError):
            pass
        time.sleep(POLL_S)
    return None


def stack_checks(urls: dict[str, str], probe: str, ids: dict, service: str) -> dict[str, Callable[[], bool]]:
    client = httpx.Client(timeout=5)
    since_ns = int((ids["end"] - 60) * 1e9)

    def jaeger() -> bool:
        r = client.get(f"{urls['jaeger_query']}/api/traces/{ids['trace_id']}")
        return r.status_code == 200 and any(s["spanID"] == ids["span_id"] for t in r.json()["data"] for s in t["spans"])

    def loki() -> bool:
        r = client.get(f"{urls['loki']}/loki/api/v1/query_range", params={
            "query": f'{{service_name="{service}"}} |= "probe {probe}"', "start": str(since_ns), "end": str(time.time_ns() + 10**9), "limit": "1"})
        return any(s["values"] for s in r.json()["data"]["result"])

    def prom(metric: str) -> Callable[[], bool]:
        def check() -> bool:
            r = client.get(f"{urls['prometheus']}/api/v1/query", params={"query": f'{metric}{{agent_otel_name="{probe}"}}'})
            return bool(r.json()["data"]["result"])
        return check

    return {"jaeger": jaeger, "loki": loki, "prometheus_sdk_metric": prom("agent_otel_duration_seconds_count"),
            "prometheus_spanmetrics": prom("traces_span_metrics_calls_total")}


def measure(agent: Agent, probe: str, checks_for: Callable[[str, dict], dict[str, Callable[[], bool]]], timeout_s: float) -> dict[str, float | None]:
    """One probe: the call, then every backend polled side by side."""
    ids = agent.call(probe)
    checks = checks_for(probe, ids)
    out: dict[str, float | None] = {}

    def run(name: str, check: Callable[[], bool]) -> None:
        out[name] = wait_until(check, ids["end"], timeout_s)

    threads = [threading.Thread(target=run, args=item) for item in checks.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))]


def table(samples: dict[str, list[float | None]]) -> dict[str, dict]:
    out = {}
    for name, values in samples.items():
        got = [v * 1000 for v in values if v is not None]
        row = {"n": len(values), "missing": len(values) - len(got)}
        if got:
            row.update({"p50_ms": round(percentile(got, 50), 1), "p99_ms": round(percentile(got, 99), 1), "max_ms": round(max(got), 1)})
        out[name] = row
    return out


def run_stack(args: argparse.Namespace) -> dict:
    from agent_otel.stack import binaries, processes

    for program in (binaries.COLLECTOR, binaries.JAEGER, binaries.LOKI, binaries.PROMETHEUS):
        binaries.install(program, lambda _l: None)
    with tempfile.TemporaryDirectory() as d:
        stack = processes.up(d, processes.Ports.free(), timeout_s=120)
        try:
            old = processes._collector("collector-old", stack, [], *processes.free_ports(4), **OLD_COLLECTOR_ENV)
            processes._launch(stack, *old, 120, lambda _m: None)
            urls = stack.urls
            setups = {"new": (urls["otlp_grpc"], {}), "old": (old[4]["otlp_grpc"], OLD_ENV)}
            agents = {(s, m): Agent(m, f"fresh-{s}-{m}", "otlp", endpoint, env)
                      for s, (endpoint, env) in setups.items() for m in ("root", "child")}
            samples: dict[str, dict[str, dict[str, list]]] = {s: {m: {} for m in ("root", "child")} for s in setups}
            time.sleep(2)  # first exports, connections up
            for i in range(args.probes):
                for (s, m), agent in agents.items():
                    if s == "old" and i >= args.old_probes:
                        continue
                    probe = f"p{i}-{s}-{m}"
                    got = measure(agent, probe, lambda p, ids, a=agent: stack_checks(urls, p, ids, a.service), args.timeout)
                    for name, v in got.items():
                        samples[s][m].setdefault(name, []).append(v)
                    print(f"{probe}: " + ", ".join(f"{k} {v * 1000:.0f} ms" if v is not None else f"{k} -" for k, v in got.items()), flush=True)
            for agent in agents.values():
                agent.close()
        finally:
            processes.down(d)
    return {s: {m: table(v) for m, v in modes.items()} for s, modes in samples.items()}


def run_local(args: argparse.Namespace) -> dict:
    from agent_otel.analyzer.sources.base import SourceError
    from agent_otel.analyzer.sources.local import LocalSource

    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as d:
        agents = {(s, m): Agent(m, f"fresh-{s}-{m}", "local", str(Path(d) / f"{s}-{m}.db"), env)
                  for s, env in (("new", {}), ("old", OLD_ENV)) for m in ("root", "child")}
        samples: dict[tuple[str, str], list] = {k: [] for k in agents}
        for i in range(args.probes):
            for (s, m), agent in agents.items():
                if s == "old" and i >= args.old_probes:
                    continue
                db = Path(d) / f"{s}-{m}.db"

                def checks(probe: str, ids: dict, db: Path = db) -> dict[str, Callable[[], bool]]:
                    def readable() -> bool:  # what `agent-otel report` / `agent-otel trace` read
                        try:
                            return any(sp.span_id == ids["span_id"] for sp in LocalSource(db).trace(ids["trace_id"]))
                        except SourceError:  # no store file yet
                            return False
                    return {"local_store": readable}

                got = measure(agent, f"p{i}-{s}-{m}", checks, args.timeout)
                samples[(s, m)].append(got["local_store"])
        for agent in agents.values():
            agent.close()
    for (s, m), values in samples.items():
        out.setdefault(s, {}).setdefault(m, {}).update(table({"local_store": values}))
    return out


SINK = r"""
import sys, time
from concurrent import futures
import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as t, trace_service_pb2_grpc as tg
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as l, logs_service_pb2_grpc as lg
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as m, metrics_service_pb2_grpc as mg

class T(tg.TraceServiceServicer):
    def Export(self, request, context):
        return t.ExportTraceServiceResponse()

class L(lg.LogsServiceServicer):
    def Export(self, request, context):
        return l.ExportLogsServiceResponse()

class M(mg.MetricsServiceServicer):
    def Export(self, request, context):
        return m.ExportMetricsServiceResponse()

server = grpc.server(futures.ThreadPoolExecutor(4))
tg.add_TraceServiceServicer_to_server(T(), server)
lg.add_LogsServiceServicer_to_server(L(), server)
mg.add_MetricsServiceServicer_to_server(M(), server)
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
sys.stdin.read()
"""

EMIT = r"""
import json, logging, sys, time
import agent_otel
endpoint, rate, seconds, per_trace = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
agent_otel.configure("cpu", exporter="otlp", endpoint=endpoint)
log = logging.getLogger("emit"); log.setLevel(logging.INFO)

def one():
    with agent_otel.agent("a"):
        for _ in range(per_trace - 1):
            with agent_otel.tool("t"):
                pass
        log.info("done")

for _ in range(20):  # warm up imports and connections
    one()
agent_otel.force_flush()
traces = int(rate * seconds / per_trace)
cpu0, t0 = time.process_time(), time.monotonic()
for i in range(traces):
    due = t0 + i * per_trace / rate
    delay = due - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    one()
agent_otel.force_flush()
cpu = time.process_time() - cpu0
print(json.dumps({"spans": traces * per_trace, "cpu_s": cpu, "wall_s": time.monotonic() - t0}), flush=True)
"""


def run_cpu(args: argparse.Namespace) -> dict:
    """The SDK's CPU per span (process CPU, all threads, exports included), old vs shipped defaults,
    in alternating runs against a gRPC sink that accepts everything."""
    sink = subprocess.Popen([sys.executable, "-c", SINK], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    endpoint = f"http://127.0.0.1:{sink.stdout.readline().strip()}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
    setups = {"new": {}, "old": OLD_ENV, "new_without_early_flush": {"AGENT_OTEL_EARLY_FLUSH": "false"},
              # what a longer delay buys back at low rates (each export costs ~1 ms of gRPC however small)
              "new_200ms_delays": {"OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_BLRP_SCHEDULE_DELAY": "200"}}
    out: dict[str, dict] = {}
    try:
        for rate in args.cpu_rates:
            runs: dict[str, list[float]] = {s: [] for s in setups}
            for repeat in range(args.cpu_repeats):
                # The setups run at the same time, so each repeat sees the same machine (it is shared);
                # the start order rotates so that no setup is always first.
                names = list(setups)
                names = names[repeat % len(names):] + names[:repeat % len(names)]
                procs = {name: subprocess.Popen([sys.executable, "-c", EMIT, endpoint, str(rate), str(args.cpu_seconds), "10"], stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE, text=True, env={**clean, "PYTHONPATH": str(ROOT / "src"), **setups[name]})
                         for name in names}
                for name, proc in procs.items():
                    stdout, stderr = proc.communicate(timeout=300)
                    if proc.returncode != 0:
                        raise RuntimeError(stderr[-2000:])
                    r = json.loads(stdout.strip().splitlines()[-1])
                    runs[name].append(r["cpu_s"] / r["spans"] * 1e6)
                print(f"cpu {rate:g} spans/s: " + ", ".join(f"{n} {runs[n][-1]:.1f} us/span" for n in names) + f" (load {os.getloadavg()[0]:.2f})", flush=True)
            row: dict = {name: {"us_per_span_runs": [round(x, 1) for x in v], "us_per_span_median": round(sorted(v)[len(v) // 2], 1)} for name, v in runs.items()}
            ratios = sorted(n / o for n, o in zip(runs["new"], runs["old"]))
            row["new_over_old_per_repeat"] = [round(x, 3) for x in ratios]
            row["new_over_old_median"] = round(ratios[len(ratios) // 2], 3)
            for variant in ("new_without_early_flush", "new_200ms_delays"):
                nr = sorted(n / o for n, o in zip(runs[variant], runs["old"]))
                row[f"{variant}_over_old_median"] = round(nr[len(nr) // 2], 3)
            out[f"{rate:g}_spans_per_s"] = row
    finally:
        sink.stdin.close()
        sink.wait(timeout=10)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--probes", type=int, default=40, help="probes per kind of call with the shipped defaults")
    ap.add_argument("--old-probes", type=int, default=10, help="probes per kind of call with the old defaults")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--only", choices=["local", "stack", "cpu"], nargs="+", default=["local", "stack", "cpu"],
                    help="parts to run; the others are kept from the existing result file")
    ap.add_argument("--cpu-rates", type=float, nargs="+", default=[2000, 200])
    ap.add_argument("--cpu-seconds", type=float, default=10)
    ap.add_argument("--cpu-repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "freshness.json")
    args = ap.parse_args()
    result: dict = json.loads(args.out.read_text()) if args.out.exists() else {}
    parts = {"local": run_local, "stack": run_stack, "cpu": run_cpu}
    for name in args.only:
        load_before, t0 = os.getloadavg(), time.time()
        figures = parts[name](args)
        result[name] = {"figures": figures, "took_s": round(time.time() - t0, 1), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}}
        args.out.write_text(json.dumps(result, indent=2))
    result.update({"poll_interval_ms": POLL_S * 1000, "targets_ms": TARGETS_MS, "machine": {"cpus": os.cpu_count()}})
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
