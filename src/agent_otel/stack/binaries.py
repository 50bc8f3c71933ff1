"""The real programs of the local stack: which versions, how each is built here, where it is cached.

Everything comes from the Go module proxy (no prebuilt downloads are reachable here) and is
built once into ``~/.cache/agent-otel/bin/<name>-<version>`` (``$AGENT_OTEL_CACHE`` overrides the
cache root); later runs reuse the binary. The collector's name carries a hash of the ocb
manifest, so editing the manifest rebuilds it.

- Jaeger v2: module github.com/jaegertracing/jaeger at v1.76.0 (its v2 tags do not match the
  module path); its go.mod has a replace directive, so `go install` refuses: we build ./cmd/jaeger
  in a writable copy of the downloaded module.
- Loki: module github.com/grafana/loki/v3; its go.mod replaces pkg/push with a nested module the
  module zip leaves out, so the copy gets pkg/push filled from the pseudo-version go.mod requires.
- Prometheus 3 (+promtool): `go install` works as is.
- The collector: the OpenTelemetry Collector Builder (ocb) builds deploy/collector/manifest.yaml.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

OCB_VERSION = "v0.161.0"
JAEGER_VERSION = "v1.76.0"
LOKI_VERSION = "v3.7.8"
PROMETHEUS_VERSION = "v0.316.0"

Log = Callable[[str], None]


class BuildError(RuntimeError):
    """A program could not be built; the message names it and the log file with go's output."""


def cache_root() -> Path:
    return Path(os.environ.get("AGENT_OTEL_CACHE") or Path.home() / ".cache" / "agent-otel")


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
    builder = BUILDER.path
    if not BUILDER.installed():
        BUILDER.path.parent.mkdir(parents=True, exist_ok=True)
        BUILDER.build(BUILDER.path, log)
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


def install(program: Program, log: Log) -> Path:
    """Build `program` unless cached; the log of the build is kept next to the cache."""
    if program.installed():
        return program.path
    if shutil.which("go") is None:
        raise BuildError(f"{program.name}: Go is not installed (needed to build it from the Go module proxy)")
    program.path.parent.mkdir(parents=True, exist_ok=True)
    log_dir = cache_root() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"build-{program.name}-{program.version}.log"
    partial = program.path.with_name(program.path.name + ".partial")
    with log_file.open("w") as fh:

        def both(line: str) -> None:
            fh.write(line + "\n")
            fh.flush()
            log(line)

        try:
            program.build(partial, both)
        except BuildError as exc:
            raise BuildError(f"building {program.name} {program.version} failed: {exc} (full log: {log_file})") from None
    partial.rename(program.path)
    return program.path
