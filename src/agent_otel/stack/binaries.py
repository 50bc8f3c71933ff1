"""The real programs of the local stack: which versions, how each is built here, where it is cached.

Everything comes from the Go module proxy (no prebuilt downloads are reachable here) and is
built once into ``~/.cache/agent-otel/bin/<name>-<version>`` (``$AGENT_OTEL_CACHE`` overrides the
cache root); later runs reuse the binary. The collector's name carries a hash of the ocb
manifest, so editing the manifest rebuilds it.

Builds are safe to start from several processes at once (two test runs, `stack install` beside
`pytest`): one build per program at a time (an `fcntl` lock file next to the binary; the second
process waits, then finds the binary built), each build writes to an output unique to it
(`<name>.partial-<pid>-<random>`) that is renamed into place only when the build succeeded, so
a killed or failed build leaves nothing that `installed()` trusts; its leftovers are removed by
the next build of that program.

- Jaeger v2: module github.com/jaegertracing/jaeger at v1.76.0 (its v2 tags do not match the
  module path); its go.mod has a replace directive, so `go install` refuses: we build ./cmd/jaeger
  in a writable copy of the downloaded module.
- Loki: module github.com/grafana/loki/v3; its go.mod replaces pkg/push with a nested module the
  module zip leaves out, so the copy gets pkg/push filled from the pseudo-version go.mod requires.
- Prometheus 3 (+promtool): `go install` works as is.
- The collector: the OpenTelemetry Collector Builder (ocb) builds deploy/collector/manifest.yaml.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from agent_otel import settings
from agent_otel.errors import BuildError  # noqa: F401  (re-exported)

OCB_VERSION = "v0.161.0"
JAEGER_VERSION = "v1.76.0"
LOKI_VERSION = "v3.7.8"
PROMETHEUS_VERSION = "v0.316.0"

Log = Callable[[str], None]


def cache_root() -> Path:
    return Path(settings.raw("AGENT_OTEL_CACHE") or Path.home() / ".cache" / "agent-otel")


def bin_dir() -> Path:
    return cache_root() / "bin"


def manifest_path() -> Path:
    return Path(str(resources.files("agent_otel.stack") / "data" / "manifest.yaml")).resolve()


def manifest_hash() -> str:
    return hashlib.sha256(manifest_path().read_bytes()).hexdigest()[:12]


@dataclass(frozen=True)
class Program:
    name: str
    version: str
    build: Callable[[Path, Log], None]  # (target binary path, log) -> None
    minutes: int  # rough first-build time here, for the progress line
    binary: str = ""  # file name stem when it differs from the name
    needs_go: bool = True

    @property
    def path(self) -> Path:
        return bin_dir() / f"{self.binary or self.name}-{self.version}"

    def installed(self) -> bool:
        return self.path.is_file() and os.access(self.path, os.X_OK)


def _run(cmd: list[str], log: Log, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    log("$ " + " ".join(cmd))
    proc = subprocess.Popen(
        cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out = []
    assert proc.stdout is not None
    for line in proc.stdout:
        out.append(line)
        log(line.rstrip())
    if proc.wait() != 0:
        raise BuildError(f"`{' '.join(cmd[:3])} ...` failed (exit {proc.returncode}): {''.join(out[-5:]).strip()}")
    return "".join(out)


def _module_dir(module: str, log: Log) -> Path:
    data = json.loads(_run(["go", "mod", "download", "-json", module], log))
    if not data.get("Dir"):
        raise BuildError(f"go mod download {module}: {data.get('Error', 'no directory')}")
    return Path(data["Dir"])


def _writable_copy(src: Path, name: str) -> Path:
    dst = cache_root() / "src" / name
    if dst.exists():
        shutil.rmtree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, dst)
    for root, dirs, files in os.walk(dst):
        for n in dirs + files:
            p = os.path.join(root, n)
            os.chmod(p, os.stat(p).st_mode | 0o200)
    return dst


def _go_install(package: str, binary: str) -> Callable[[Path, Log], None]:
    def build(target: Path, log: Log) -> None:
        with tempfile.TemporaryDirectory() as gobin:
            _run(["go", "install", package], log, env={"GOBIN": gobin})
            shutil.move(os.path.join(gobin, binary), target)

    return build


def _build_jaeger(target: Path, log: Log) -> None:
    src = _writable_copy(_module_dir(f"github.com/jaegertracing/jaeger@{JAEGER_VERSION}", log), f"jaeger-{JAEGER_VERSION}")
    _run(["go", "build", "-o", str(target), "./cmd/jaeger"], log, cwd=src)


def _build_loki(target: Path, log: Log) -> None:
    src = _writable_copy(_module_dir(f"github.com/grafana/loki/v3@{LOKI_VERSION}", log), f"loki-{LOKI_VERSION}")
    push_version = next(
        (line.split()[1] for line in (src / "go.mod").read_text().splitlines() if line.strip().startswith("github.com/grafana/loki/pkg/push ")),
        None,
    )
    if not push_version:
        raise BuildError("loki: go.mod names no version of github.com/grafana/loki/pkg/push")
    push = _module_dir(f"github.com/grafana/loki/pkg/push@{push_version}", log)
    shutil.rmtree(src / "pkg" / "push", ignore_errors=True)
    shutil.copytree(push, src / "pkg" / "push")
    for root, dirs, files in os.walk(src / "pkg" / "push"):
        for n in dirs + files:
            os.chmod(os.path.join(root, n), 0o755 if n in dirs else 0o644)
    _run(["go", "build", "-o", str(target), "./cmd/loki"], log, cwd=src)


def _build_collector(target: Path, log: Log) -> None:
    builder = install(BUILDER, log)
    with tempfile.TemporaryDirectory() as work:
        manifest = Path(work) / "manifest.yaml"
        text = manifest_path().read_text().replace("output_path: ./_build", f"output_path: {work}/out")
        manifest.write_text(text)
        _run([str(builder), "--config", str(manifest)], log, cwd=Path(work))
        shutil.move(os.path.join(work, "out", "otelcol-agent-otel"), target)


BUILDER = Program("builder", OCB_VERSION, _go_install(f"go.opentelemetry.io/collector/cmd/builder@{OCB_VERSION}", "builder"), 1)
COLLECTOR = Program("collector", manifest_hash(), _build_collector, 4, binary="otelcol-agent-otel")
JAEGER = Program("jaeger", JAEGER_VERSION, _build_jaeger, 4)
LOKI = Program("loki", LOKI_VERSION, _build_loki, 5)
PROMETHEUS = Program("prometheus", PROMETHEUS_VERSION, _go_install(f"github.com/prometheus/prometheus/cmd/prometheus@{PROMETHEUS_VERSION}", "prometheus"), 5)
PROMTOOL = Program("promtool", PROMETHEUS_VERSION, _go_install(f"github.com/prometheus/prometheus/cmd/promtool@{PROMETHEUS_VERSION}", "promtool"), 1)

PROGRAMS: dict[str, Program] = {p.name: p for p in (COLLECTOR, JAEGER, LOKI, PROMETHEUS, PROMTOOL)}


@contextlib.contextmanager
def _build_lock(program: Program, log: Log) -> Iterator[None]:
    """Hold the program's build lock (released by the OS if this process dies)."""
    lock_path = program.path.with_name(f".{program.path.name}.lock")
    with lock_path.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            log(f"waiting for the build of {program.name} {program.version} by {holder} to finish")
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_leftovers(program: Program) -> None:
    """Outputs of earlier builds of `program` that were killed or failed (we hold its lock)."""
    for stale in program.path.parent.glob(f"{program.path.name}.partial*"):
        with contextlib.suppress(OSError):
            if stale.is_dir():
                shutil.rmtree(stale)
            else:
                stale.unlink()


def install(program: Program, log: Log) -> Path:
    """Build `program` unless cached; the log of the build is kept next to the cache.

    Safe to call from several processes at once: the first builds, the others wait and reuse."""
    if program.installed():
        return program.path
    if program.needs_go and shutil.which("go") is None:
        raise BuildError(f"{program.name}: Go is not installed (needed to build it from the Go module proxy)")
    program.path.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(program, log):
        if program.installed():  # built by the process we waited for
            return program.path
        _remove_leftovers(program)
        log_dir = cache_root() / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_file = log_dir / f"build-{program.name}-{program.version}.log"
        partial = program.path.with_name(f"{program.path.name}.partial-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            with log_file.open("w") as fh:

                def both(line: str) -> None:
                    fh.write(line + "\n")
                    fh.flush()
                    log(line)

                try:
                    program.build(partial, both)
                except BuildError as exc:
                    raise BuildError(f"building {program.name} {program.version} failed: {exc} (full log: {log_file})") from None
            if not (partial.is_file() and os.access(partial, os.X_OK) and partial.stat().st_size > 0):
                raise BuildError(f"building {program.name} {program.version} produced no executable (full log: {log_file})")
            os.replace(partial, program.path)
        finally:
            with contextlib.suppress(OSError):
                partial.unlink()
    return program.path
