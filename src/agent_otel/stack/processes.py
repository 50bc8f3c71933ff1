"""Start the stack's programs as local processes on 127.0.0.1, wait until healthy, stop exactly them.

What was started is written to ``<data dir>/stack.json`` (pid, binary, log file, health URL), so
`down` stops those processes and nothing else, even from another shell.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import stat
import subprocess
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from string import Template
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

from agent_otel.stack import binaries
from agent_otel.errors import StackError  # noqa: F401  (re-exported)

STATE_FILE = "stack.json"
EVALUATION_INTERVAL = "1s"  # Prometheus rule evaluation (docs/latency.md); deploy/compose ships the same
_logger = logging.getLogger("agent_otel.stack")


@dataclass
class Ports:
    otlp_grpc: int = 4317
    otlp_http: int = 4318
    collector_health: int = 13133
    collector_telemetry: int = 8888
    jaeger_otlp_grpc: int = 14317
    jaeger_otlp_http: int = 14318
    jaeger_query: int = 16686
    jaeger_query_grpc: int = 16685
    jaeger_health: int = 13134
    prometheus: int = 9090
    loki: int = 3100
    loki_grpc: int = 9096
    alertmanager: int = 9093

    @classmethod
    def from_base(cls, base: int) -> Ports:
        names = [f.name for f in fields(cls)]
        if not 1024 <= base <= 65535 - len(names):
            raise StackError(f"--base-port {base}: expected 1024..{65535 - len(names)}")
        return cls(**{n: base + i for i, n in enumerate(names)})

    @classmethod
    def free(cls) -> Ports:
        """Ports the OS says are free now (tests run several stacks without clashing)."""
        names = [f.name for f in fields(cls)]
        return cls(**dict(zip(names, free_ports(len(names)))))


@dataclass
class Proc:
    name: str
    pid: int
    binary: str
    log: str
    health: str
    argv: list[str] = field(default_factory=list)  # kept so `restart` starts it the same way
    env: dict[str, str] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)  # extra endpoints (gateway-tier collectors)


@dataclass
class Stack:
    data_dir: str
    ports: Ports
    procs: list[Proc] = field(default_factory=list)

    @property
    def urls(self) -> dict[str, str]:
        p = self.ports
        return {
            "otlp_grpc": f"http://127.0.0.1:{p.otlp_grpc}",
            "otlp_http": f"http://127.0.0.1:{p.otlp_http}",
            "collector_health": f"http://127.0.0.1:{p.collector_health}/",
            "jaeger_query": f"http://127.0.0.1:{p.jaeger_query}",
            "prometheus": f"http://127.0.0.1:{p.prometheus}",
            "loki": f"http://127.0.0.1:{p.loki}",
            **({"alertmanager": f"http://127.0.0.1:{p.alertmanager}"} if any(pr.name == "alertmanager" for pr in self.procs) else {}),
            **{f"{pr.name}_{k}": v for pr in self.procs for k, v in pr.urls.items()},
        }

    def save(self) -> None:
        f = Path(self.data_dir, STATE_FILE)
        f.touch(mode=0o600)  # holds each program's environment: only for the owner
        os.chmod(f, 0o600)
        f.write_text(json.dumps({"data_dir": self.data_dir, "ports": asdict(self.ports), "procs": [asdict(p) for p in self.procs], "urls": self.urls}, indent=2))

    @classmethod
    def load(cls, data_dir: str | Path) -> Stack | None:
        f = Path(data_dir, STATE_FILE)
        if not f.exists():
            return None
        data = json.loads(f.read_text())
        return cls(data["data_dir"], Ports(**data["ports"]), [Proc(**p) for p in data["procs"]])

    def proc(self, name: str) -> Proc:
        for p in self.procs:
            if p.name == name:
                return p
        raise StackError(f"no program {name!r} in this stack; it has: {', '.join(p.name for p in self.procs)}")


def private_dir(path: Path) -> None:
    """Create `path` 0700 (Loki chunks, Prometheus TSDB, configs, logs: every agent's telemetry),
    or tighten it with a one-line warning if an older version left it readable by others."""
    path.mkdir(parents=True, mode=0o700, exist_ok=True)
    old = stat.S_IMODE(path.stat().st_mode)
    if old & 0o077:
        os.chmod(path, 0o700)
        _logger.warning("agent-otel: %s was mode %o, readable by other users; tightened to 700", path, old)


def _render(template: str, values: dict[str, Any]) -> str:
    text = (resources.files("agent_otel.stack") / "data" / template).read_text()
    return Template(text).substitute(values)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _ours(proc: Proc) -> psutil.Process | None:
    """The running process `proc` recorded, or None when it exited or its pid now runs another program."""
    try:
        p = psutil.Process(proc.pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            p.wait(0)  # our own child that exited: reap it
            return None
        argv = p.cmdline()
    except (psutil.Error, psutil.TimeoutExpired):
        return None
    return p if argv and argv[0] == proc.binary else None


def alive(proc: Proc) -> bool:
    """Whether the program still runs: same pid and same binary (a reused pid is not ours)."""
    return _ours(proc) is not None


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def alertmanager_binary() -> str | None:
    """Debian's prometheus-alertmanager (or an `alertmanager` on PATH), if installed."""
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def _rule_files(prometheus_rules: str, cfg: Path) -> list[str]:
    """The Prometheus rule file text (`agent_otel.alerts.export.prometheus_rule_file`), written for this stack's Prometheus."""
    out = cfg / "agent-otel.rules.yml"
    out.write_text(prometheus_rules)
    return [str(out)]


def _data_config(name: str) -> str:
    return str(Path(str(resources.files("agent_otel.stack") / "data" / name)).resolve())


def free_ports(n: int) -> list[int]:
    """`n` distinct ports on 127.0.0.1 that the OS says are free now."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


Command = tuple[str, list[str], dict[str, str], str, dict[str, str]]  # name, argv, env, health URL, extra URLs


def _collector(name: str, stack: Stack, configs: list[str], grpc: int, http: int, health: int, telemetry: int, **env: str) -> Command:
    """One collector process of the shipped config (+ overlays), its own queue directory and ports."""
    p, d = stack.ports, Path(stack.data_dir)
    argv = [str(binaries.COLLECTOR.path)]
    for c in ["collector-config.yaml", *configs]:
        argv += ["--config", _data_config(c)]
    full_env = {
        "AGENT_OTEL_HEALTH_ENDPOINT": f"127.0.0.1:{health}",
        "AGENT_OTEL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{grpc}",
        "AGENT_OTEL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{http}",
        "AGENT_OTEL_TELEMETRY_PORT": str(telemetry),
        "AGENT_OTEL_COLLECTOR_NAME": name,
        "AGENT_OTEL_QUEUE_DIR": str(d / "queue" / name),
        "AGENT_OTEL_RETRY_MAX_INTERVAL": "5s",
        "AGENT_OTEL_JAEGER_OTLP_ENDPOINT": f"127.0.0.1:{p.jaeger_otlp_grpc}",
        "AGENT_OTEL_PROMETHEUS_OTLP_ENDPOINT": f"http://127.0.0.1:{p.prometheus}/api/v1/otlp/v1/metrics",
        "AGENT_OTEL_LOKI_OTLP_ENDPOINT": f"http://127.0.0.1:{p.loki}/otlp/v1/logs",
        **env,
    }
    urls = {"otlp_grpc": f"http://127.0.0.1:{grpc}", "otlp_http": f"http://127.0.0.1:{http}", "telemetry": f"http://127.0.0.1:{telemetry}/metrics"}
    return name, argv, full_env, f"http://127.0.0.1:{health}/", urls


def _collectors(stack: Stack, gateways: int, sampling: dict[str, str]) -> list[Command]:
    """The single collector; or N gateways (spanmetrics + tail sampling, to the backends) each fed
    by one agent-tier collector that forwards to it, as a sidecar's gRPC connection sticks to one
    gateway pod. Agent-tier collector 0 takes the stack's main OTLP ports."""
    p = stack.ports
    if gateways <= 0:
        return [_collector("collector", stack, [], p.otlp_grpc, p.otlp_http, p.collector_health, p.collector_telemetry)]
    out = []
    for i in range(gateways):
        g = free_ports(4)
        out.append(_collector(f"gateway-{i}", stack, ["sampling.yaml"], *g, **sampling))
        a = [p.otlp_grpc, p.otlp_http, p.collector_health, p.collector_telemetry] if i == 0 else free_ports(4)
        out.append(_collector("collector" if i == 0 else f"collector-{i}", stack, ["forward.yaml"], *a, AGENT_OTEL_GATEWAY_ENDPOINT=f"127.0.0.1:{g[0]}"))
    return out


def _commands(stack: Stack, alert_rules: str | None, alert_webhook: str | None, gateways: int = 0, sampling: dict[str, str] | None = None) -> list[Command]:
    """(name, argv, env, health URL) of each program, backends first."""
    p, d = stack.ports, Path(stack.data_dir)
    cfg = d / "config"
    private_dir(cfg)
    am_bin = alertmanager_binary() if (alert_rules or alert_webhook) else None
    if (alert_rules or alert_webhook) and am_bin is None:
        raise StackError("alerting needs Alertmanager: apt-get install prometheus-alertmanager")
    values = {**asdict(p), "data_dir": str(d), "jaeger_max_traces": 200000, "evaluation_interval": EVALUATION_INTERVAL,
              "rule_files": json.dumps(_rule_files(alert_rules, cfg) if alert_rules else []),
              "alerting": f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{p.alertmanager}']" if am_bin else "",
              "webhook": json.dumps(alert_webhook or "http://127.0.0.1:9/unused")}
    collectors = _collectors(stack, gateways, sampling or {})
    values["scrape_targets"] = json.dumps([urlsplit(urls["telemetry"]).netloc for *_, urls in collectors])
    (cfg / "jaeger.yaml").write_text(_render("jaeger.yaml", values))
    (cfg / "loki.yaml").write_text(_render("loki.yaml", values))
    (cfg / "prometheus.yml").write_text(_render("prometheus.yml", values))
    programs: list[Command] = []
    if am_bin:
        (cfg / "alertmanager.yml").write_text(_render("alertmanager.yml", values))
        programs.append(("alertmanager", [am_bin, f"--config.file={cfg / 'alertmanager.yml'}", f"--storage.path={d / 'alertmanager'}",
                                          f"--web.listen-address=127.0.0.1:{p.alertmanager}", "--cluster.listen-address="], {},
                         f"http://127.0.0.1:{p.alertmanager}/-/ready", {}))
    return programs + [
        ("jaeger", [str(binaries.JAEGER.path), "--config", str(cfg / "jaeger.yaml")], {}, f"http://127.0.0.1:{p.jaeger_health}/status", {}),
        ("prometheus", [str(binaries.PROMETHEUS.path), f"--config.file={cfg / 'prometheus.yml'}", f"--storage.tsdb.path={d / 'prometheus'}",
                        f"--web.listen-address=127.0.0.1:{p.prometheus}", "--web.enable-otlp-receiver", "--web.enable-lifecycle"], {},
         f"http://127.0.0.1:{p.prometheus}/-/ready", {}),
        ("loki", [str(binaries.LOKI.path), f"-config.file={cfg / 'loki.yaml'}"], {}, f"http://127.0.0.1:{p.loki}/ready", {}),
        *collectors,
    ]


def _launch(stack: Stack, name: str, argv: list[str], env: dict[str, str], health: str, urls: dict[str, str], timeout_s: float, log) -> Proc:  # noqa: ANN001
    """Start one program, record it in the state file, wait until its health URL answers 200."""
    logs = Path(stack.data_dir) / "logs"
    logs.mkdir(exist_ok=True)
    log_file = logs / f"{name}.log"
    with log_file.open("ab") as out:
        popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env}, cwd=stack.data_dir, start_new_session=True)
    proc = Proc(name, popen.pid, argv[0], str(log_file), health, argv, env, urls)
    stack.procs = [p for p in stack.procs if p.name != name] + [proc]
    stack.save()
    log(f"started {name} (pid {popen.pid}), waiting for {health}")
    deadline = time.monotonic() + timeout_s
    while not healthy(health):
        if popen.poll() is not None:
            raise StackError(f"{name} exited with code {popen.returncode} while starting; see its log: {log_file}")
        if time.monotonic() > deadline:
            raise StackError(f"{name} did not become healthy within {timeout_s:.0f}s ({health}); see its log: {log_file}")
        time.sleep(0.3)
    log(f"{name} is healthy")
    return proc


def up(
    data_dir: str | Path,
    ports: Ports | None = None,
    *,
    timeout_s: float = 90,
    alert_rules: str | None = None,
    alert_webhook: str | None = None,
    gateways: int = 0,
    sampling: dict[str, str] | None = None,
    log=lambda _msg: None,  # noqa: ANN001
) -> Stack:
    """Start Jaeger, Prometheus, Loki and the collector (with `alert_rules`, a Prometheus rule file's
    text, or `alert_webhook`, also Alertmanager, and Prometheus evaluating the rules; with `gateways` N, N gateway collectors
    behind N agent-tier collectors, `sampling` setting their AGENT_OTEL_SAMPLING_* variables);
    on any failure stop what was started."""
    data_dir = Path(data_dir).expanduser().resolve()
    private_dir(data_dir)
    if gateways < 0:
        raise StackError(f"--gateways {gateways}: expected 0 or more")
    existing = Stack.load(data_dir)
    if existing and any(alive(pr) for pr in existing.procs):
        raise StackError(f"a stack from {data_dir} is already running; `agent-otel stack down --data-dir {data_dir}` first")
    stack = Stack(str(data_dir), ports or Ports())
    missing = [p.name for p in (binaries.COLLECTOR, binaries.JAEGER, binaries.LOKI, binaries.PROMETHEUS) if not p.installed()]
    if missing:
        raise StackError(f"not built yet: {', '.join(missing)}; run `agent-otel stack install` first")
    busy = [f"{name} {port}" for name, port in asdict(stack.ports).items() if not _port_free(port)]
    if busy:
        raise StackError(f"port(s) in use on 127.0.0.1: {', '.join(busy)}; pick others with --base-port")
    try:
        for name, argv, env, health, urls in _commands(stack, alert_rules, alert_webhook, gateways, sampling):
            _launch(stack, name, argv, env, health, urls, timeout_s, log)
    except BaseException:
        down(data_dir)
        raise
    return stack


def stop(data_dir: str | Path, name: str, *, kill: bool = False, timeout_s: float = 15) -> None:
    """Stop one program of the running stack, gracefully or (`kill`) with SIGKILL as a crash would;
    `restart` brings it back (fault tests)."""
    stack = _started(data_dir)
    proc = stack.proc(name)
    p = _ours(proc) if kill else None
    if p is not None:
        p.kill()
        with contextlib.suppress(psutil.Error, psutil.TimeoutExpired):
            p.wait(timeout_s)
    _terminate(proc, timeout_s)


def restart(data_dir: str | Path, name: str, *, timeout_s: float = 90) -> Proc:
    """Start a stopped (or running) program again with the argv and environment it had."""
    stack = _started(data_dir)
    proc = stack.proc(name)
    if not proc.argv:
        raise StackError(f"{name}: the state file does not say how it was started")
    _terminate(proc, 15)
    return _launch(stack, name, proc.argv, proc.env, proc.health, proc.urls, timeout_s, lambda _m: None)


def _started(data_dir: str | Path) -> Stack:
    stack = Stack.load(Path(data_dir).expanduser().resolve())
    if stack is None:
        raise StackError(f"no stack started from {data_dir}")
    return stack


def _terminate(proc: Proc, timeout_s: float) -> bool:
    """SIGTERM, then SIGKILL after `timeout_s`; psutil's wait reaps our own children."""
    p = _ours(proc)
    if p is None:
        return False
    with contextlib.suppress(psutil.NoSuchProcess):
        p.terminate()
        try:
            p.wait(timeout_s)
        except psutil.TimeoutExpired:
            p.kill()
            with contextlib.suppress(psutil.TimeoutExpired):
                p.wait(5)
    return True


def down(data_dir: str | Path, *, timeout_s: float = 15) -> list[str]:
    """Stop the processes recorded in the data dir (only if they still run our binaries)."""
    stack = Stack.load(Path(data_dir).expanduser().resolve())
    if stack is None:
        return []
    stopped = [proc.name for proc in reversed(stack.procs) if _terminate(proc, timeout_s)]
    stack.procs = []
    stack.save()
    return stopped


def status(data_dir: str | Path) -> list[tuple[Proc, bool, bool]]:
    """(process, running, healthy) of each recorded program."""
    stack = Stack.load(Path(data_dir).expanduser().resolve())
    if stack is None:
        return []
    return [(p, alive(p), alive(p) and healthy(p.health)) for p in stack.procs]
