"""Alert response time from the user's side: from the first bad call in an agent returning to the
notification arriving at a webhook, through both paths with their shipped defaults:

- `local`: the agent writes to the local store (default `configure()`), `agent-otel alerts watch`
  (its default interval) evaluates the rule file and posts to the webhook;
- `stack`: the agent sends OTLP to the stack's collector, Prometheus evaluates the exported rules
  (the stack's evaluation interval), Alertmanager (the stack's group_wait) posts to the webhook.

Each trial has its own tool (`t<i>`) and rule (`Slow<i>`: p95 > 500 ms, `for` unset): 30 good calls
(10 ms) over 3 s, then after a random 0-2 s pause 20 bad calls (600 ms) at once, each in its own
agent run; the clock starts when the first bad call returns. The load average is recorded: the
machine is shared.

    python bench/bench_alerts.py --only local                                # no stack needed
    flock /tmp/agent-otel-stack.lock python bench/bench_alerts.py --only stack
    (both parts by default) -> bench/results/alerts.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # loadgen/: the webhook receiver (shared with the stack tests)
from loadgen.webhook import WebhookReceiver  # noqa: E402
TARGET_P99_S = 5.0
BAD_MS, GOOD_MS, THRESHOLD_MS = 600, 10, 500

AGENT = r"""
import random, sys, threading, time
import agent_otel
exporter, target = sys.argv[1], sys.argv[2]
if exporter == "local":
    agent_otel.configure("alert-bench", exporter="local", store_path=target)
else:
    agent_otel.configure("alert-bench", exporter="otlp", endpoint=target)

def call(tool, ms, ends):
    with agent_otel.agent("bot"):
        with agent_otel.tool(tool):
            time.sleep(ms / 1000)
        ends.append(time.time())  # the tool call returned

print("READY", flush=True)
for line in sys.stdin:
    if not line.strip():
        break
    tool, pause = line.split()
    for _ in range(30):
        call(tool, %(good)d, [])
        time.sleep(0.09)
    time.sleep(float(pause))
    ends = []
    threads = [threading.Thread(target=call, args=(tool, %(bad)d, ends)) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(min(ends), flush=True)
agent_otel.shutdown()
""" % {"good": GOOD_MS, "bad": BAD_MS}


def rules_file(path: Path, trials: int, webhook: str) -> Path:
    path.write_text(yaml.safe_dump({
        "window": "1m",
        "receivers": [{"type": "webhook", "url": webhook}],
        "rules": [{"name": f"Slow{i}", "select": {"kind": "tool", "name": f"t{i}"}, "figure": "latency_ms.p95", "op": ">",
                   "value": THRESHOLD_MS, "severity": "warning"} for i in range(trials)],
    }))
    return path


def agent(exporter: str, target: str) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
    proc = subprocess.Popen([sys.executable, "-c", AGENT, exporter, target], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**clean, "PYTHONPATH": str(ROOT / "src")})
    assert proc.stdout.readline().strip() == "READY"
    return proc


def trials(proc: subprocess.Popen, hook: WebhookReceiver, n: int, label: str, timeout_s: float = 30) -> list[float | None]:
    rng = random.Random(20)
    out: list[float | None] = []
    for i in range(n):
        proc.stdin.write(f"t{i} {rng.uniform(0, 2):.3f}\n")
        proc.stdin.flush()
        first_bad = float(proc.stdout.readline())
        deadline = time.time() + timeout_s
        while f"Slow{i}" not in hook.first_firing and time.time() < deadline:
            time.sleep(0.01)
        got = hook.first_firing.get(f"Slow{i}")
        out.append(round(got - first_bad, 3) if got else None)
        print(f"{label} trial {i + 1}: first bad call -> webhook in " + (f"{got - first_bad:.2f}s" if got else "- (none)"), flush=True)
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait(timeout=30)
    return out


def run_local(args: argparse.Namespace, hook: WebhookReceiver) -> dict:
    with tempfile.TemporaryDirectory() as d:
        db, rules = Path(d) / "store.db", rules_file(Path(d) / "rules.yaml", args.trials, hook.url)
        proc = agent("local", str(db))
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
        watch = subprocess.Popen([sys.executable, "-m", "agent_otel.cli", "alerts", "watch", "-r", str(rules), "--store", str(db), "--source", "local"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**clean, "PYTHONPATH": str(ROOT / "src")})
        try:
            got = trials(proc, hook, args.trials, "local")
        finally:
            watch.terminate()
            _, err = watch.communicate(timeout=30)
        from agent_otel.cli.alerts import WATCH_INTERVAL

        return summary(got) | {"watch_interval": WATCH_INTERVAL}


def run_stack(args: argparse.Namespace, hook: WebhookReceiver) -> dict:
    from agent_otel.stack import binaries, processes

    for program in (binaries.COLLECTOR, binaries.JAEGER, binaries.LOKI, binaries.PROMETHEUS):
        binaries.install(program, lambda _l: None)
    with tempfile.TemporaryDirectory() as d:
        rules = rules_file(Path(d) / "rules.yaml", args.trials, hook.url)
        stack = processes.up(Path(d) / "stack", processes.Ports.free(), timeout_s=120, alert_rules=rules, alert_webhook=hook.url)
        try:
            proc = agent("otlp", stack.urls["otlp_grpc"])
            got = trials(proc, hook, args.trials, "stack")
            config = Path(d, "stack", "config")
            prom = yaml.safe_load(config.joinpath("prometheus.yml").read_text())
            am = yaml.safe_load(config.joinpath("alertmanager.yml").read_text())
        finally:
            processes.down(Path(d) / "stack")
        return summary(got) | {"evaluation_interval": prom["global"]["evaluation_interval"], "group_wait": am["route"]["group_wait"]}


def summary(got: list[float | None]) -> dict:
    ok = sorted(x for x in got if x is not None)
    p = lambda q: ok[min(len(ok) - 1, max(0, round(q / 100 * len(ok) + 0.5) - 1))] if ok else None  # noqa: E731
    return {"trials_s": got, "missing": len(got) - len(ok), "p50_s": p(50), "p99_s": p(99), "max_s": ok[-1] if ok else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--only", choices=["local", "stack"], nargs="+", default=["local", "stack"])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "alerts.json")
    args = ap.parse_args()
    result = json.loads(args.out.read_text()) if args.out.exists() else {}
    result = {k: v for k, v in result.items() if k in ("local", "stack")}  # the older single-path layout is replaced
    hook = WebhookReceiver()
    for name in args.only:
        load_before, t0 = os.getloadavg(), time.time()
        figures = {"local": run_local, "stack": run_stack}[name](args, hook)
        result[name] = {**figures, "took_s": round(time.time() - t0, 1), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}}
        args.out.write_text(json.dumps({**result, "target_p99_s": TARGET_P99_S}, indent=2))
    hook.server.shutdown()
    print(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
