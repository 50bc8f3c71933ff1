"""`configure()` / `shutdown()` / `force_flush()`: the one call that wires the OpenTelemetry SDK.

It builds tracer, meter and logger providers with a resource describing the service, host and
process, picks exporters (OTLP gRPC or HTTP to a collector, the embedded local store, the
console, or none) and installs them as the global providers, so the decorators and any other
OpenTelemetry instrumentation in the process report through them.

The global providers of OpenTelemetry can be set once per process; a second `configure()` is
therefore a no-op with a warning, as with `opentelemetry-instrument`. Export queues are bounded
(`max_queue_size`); the SDK's own metrics (`otel.sdk.processor.span.processed` with
`error.type=queue_full`, `otel.sdk.exporter.span.exported` with the failure's `error.type`) are
switched on so an unreachable collector shows up as a counted drop.
"""

from __future__ import annotations

import atexit
import logging
import os
import platform
import socket
import sys
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from agent_otel import content, freshness, redaction, redacting_exporters, sdk_env, semconv, settings
from agent_otel.parked_threads import ParkedThreads
from agent_otel.version import __version__
from agent_otel.errors import ConfigError  # noqa: F401  (re-exported)
from agent_otel.headers import parse_headers

_logger = logging.getLogger("agent_otel")
EXPORTERS = ("otlp", "local", "console", "none", "auto")
PROTOCOLS = ("grpc", "http/protobuf")
EXPORT_TIMEOUT_S = 5.0
# Span and log export queues: 4 s of the load bench's 2,000 spans/s per process (the SDK's 2,048 held 1 s, and
# a catch-up burst after the process was descheduled overflowed it: bench/results/load_export_defaults.json).
DEFAULT_MAX_QUEUE_SIZE = 8192


@dataclass
class _State:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider
    log_handler: logging.Handler | None
    exporter: str
    extras: list[Any] = field(default_factory=list)
    shutdown_threads: ParkedThreads | None = None  # started by configure(): Python 3.12+ starts no thread at exit


_lock = threading.Lock()
_state: _State | None = None


def _ratio(value: Any, where: str) -> float:
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected a number between 0 and 1, got {value!r}") from None
    if not 0.0 <= ratio <= 1.0:
        raise ConfigError(f"{where}: expected a number between 0 and 1, got {value!r}")
    return ratio


def _positive(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected a positive number, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{where}: expected a positive number, got {value!r}")
    return number


def build_resource(
    service_name: str | None,
    service_version: str | None,
    environment: str | None,
    resource_attributes: Mapping[str, Any] | None,
) -> Resource:
    """Service, host and process attributes; OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME merge in."""
    attrs: dict[str, Any] = {
        "host.name": socket.gethostname(),
        "process.pid": os.getpid(),
        "process.runtime.name": platform.python_implementation().lower(),
        "process.runtime.version": platform.python_version(),
        "telemetry.distro.name": "agent-otel",
        "telemetry.distro.version": __version__,
    }
    if service_version:
        attrs["service.version"] = service_version
    if environment:
        attrs["deployment.environment.name"] = environment
    attrs.update(resource_attributes or {})
    resource = Resource.create(attrs)  # merges OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME
    name = service_name or settings.raw("OTEL_SERVICE_NAME")
    if name:
        resource = resource.merge(Resource({"service.name": name}))
    return resource


def _bad_token(token: str) -> bool:
    return not token.strip() or any(c.isspace() or not c.isprintable() for c in token.strip())


_local: dict[str | None, Any] = {}


def _exporter(signal: str, kind: str, endpoint: str | None, protocol: str | None, headers: dict[str, str] | None, store_path: str | None):
    """The exporter of one signal (None for `none`)."""
    if kind == "otlp":
        return sdk_env.otlp_exporter(signal, sdk_env.protocol_for(signal, protocol), endpoint, headers, EXPORT_TIMEOUT_S)
    if kind == "local":
        from agent_otel.localstore import open_exporters

        path = store_path or settings.raw(semconv.ENV_STORE_PATH)
        if path not in _local:
            _local[path] = open_exporters(path)
        return getattr(_local[path], {"traces": "spans", "metrics": "metrics", "logs": "logs"}[signal])
    if kind == "console":
        from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return {"traces": ConsoleSpanExporter, "metrics": ConsoleMetricExporter, "logs": ConsoleLogRecordExporter}[signal]()
    return None


def _auto_destination(protocol: str, store_path: str | None) -> tuple[str, str | None]:
    """No exporter or endpoint given: the running local stack, else the local store; says which."""
    from agent_otel.stack.discovery import auto_choice

    choice = auto_choice(store_path)
    note = f"agent-otel: sending telemetry to {choice.describe()}; `agent-otel report` reads it there"
    if _logger.hasHandlers() and _logger.isEnabledFor(logging.INFO):
        _logger.info(note)
    elif not _logger.hasHandlers():
        sys.stderr.write(note + "\n")
    return ("otlp", choice.otlp_endpoint(protocol)) if choice.kind == "stack" else ("local", None)


def configure(
    service_name: str | None = None,
    *,
    exporter: str | None = None,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: str | Mapping[str, str] | None = None,
    token: str | None = None,
    service_version: str | None = None,
    environment: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    sample_ratio: float | None = None,
    capture_content: bool | None = None,
    max_content_length: int | None = None,
    redact_patterns: Sequence[str] | Mapping[str, str] = (),
    redact_emails: bool | None = None,
    metric_interval: float | None = None,
    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
    store_path: str | None = None,
    instrument: Sequence[str] | None = None,
    resource_metrics: bool = False,
    log_level: int | None = None,
) -> None:
    """Install OpenTelemetry providers and exporters for this process.

    exporter: "otlp" (to a collector; the default when an endpoint is given or
    OTEL_EXPORTER_OTLP_ENDPOINT is set), "local" (the embedded store that `agent-otel report`
    reads), "console", "none", or "auto" (the default otherwise: the running local stack of
    `agent-otel stack up` if there is one, else the local store, the same choice as `agent-otel
    report`; a line on stderr, or an INFO log when logging is set up, says which). Arguments given here win; whatever is not
    given comes from the OpenTelemetry SDK's own variables, read by the SDK itself (see
    agent_otel/sdk_env.py and docs/configuration.md): OTEL_SDK_DISABLED, OTEL_TRACES_SAMPLER(+_ARG),
    OTEL_{TRACES,METRICS,LOGS}_EXPORTER, OTEL_EXPORTER_OTLP_[SIGNAL_]ENDPOINT/HEADERS/PROTOCOL/
    CERTIFICATE/..., OTEL_BSP_*, OTEL_BLRP_*, OTEL_METRIC_EXPORT_INTERVAL, OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES; plus AGENT_OTEL_EXPORTER, AGENT_OTEL_STORE, AGENT_OTEL_TOKEN.
    An unparseable variable is warned about once and treated as unset.
    token (AGENT_OTEL_TOKEN): sent as `authorization: Bearer <token>` to a collector whose OTLP
    receivers require it (deploy/collector/auth.yaml); never logged or put in error messages.
    redact_patterns (regexes, or a name -> regex map) add to the default secret patterns that
    every exported span, log and metric point is redacted with; redact_emails
    (AGENT_OTEL_REDACT_EMAILS) masks e-mail addresses too. See agent_otel.redaction.
    Raises ConfigError on a bad argument: a misconfiguration in code is the one error we do not hide.
    """
    global _state
    with _lock, sdk_env.sdk_internal_metrics():
        if _state is not None:
            warnings.warn("agent_otel.configure() was already called; keeping the first configuration", RuntimeWarning, stacklevel=2)
            return

        if sdk_env.sdk_disabled():
            _logger.info("agent-otel: OTEL_SDK_DISABLED=true; no providers or exporters installed")
            return
        if exporter is not None and exporter.lower() not in EXPORTERS:
            raise ConfigError(f"exporter: expected one of {', '.join(EXPORTERS)}, got {exporter!r}")
        if protocol is not None and protocol.lower() not in PROTOCOLS:
            raise ConfigError(f"protocol: expected grpc or http/protobuf, got {protocol!r}")
        header_map = parse_headers(headers, "headers") if headers is not None else None
        if token is None:
            token = settings.raw(semconv.ENV_TOKEN)
            if token is not None and _bad_token(token):
                sdk_env.warn_once(semconv.ENV_TOKEN, "(value not shown)", "non-empty printable characters without spaces")
                token = None
        elif _bad_token(token):
            raise ConfigError(f"token ({semconv.ENV_TOKEN}): must be non-empty printable characters without spaces (value not shown)")
        if token is not None:
            header_map = {**(header_map or {}), "authorization": f"Bearer {token.strip()}"}
        ratio = _ratio(sample_ratio, "sample_ratio") if sample_ratio is not None else None
        interval_ms: float | None = None
        if metric_interval is not None:
            interval_ms = _positive(metric_interval, "metric_interval") * 1000
        elif settings.raw("OTEL_METRIC_EXPORT_INTERVAL") is None:
            interval_ms = freshness.METRIC_INTERVAL_MS  # agent-otel's default; the SDK reads the variable when it is set
        if int(max_queue_size) <= 0:
            raise ConfigError(f"max_queue_size: expected a positive integer, got {max_queue_size!r}")
        queue = None if int(max_queue_size) == DEFAULT_MAX_QUEUE_SIZE and settings.raw("OTEL_BSP_MAX_QUEUE_SIZE") else int(max_queue_size)
        policy = content.ContentPolicy.from_env()
        if capture_content is not None:
            policy.capture = bool(capture_content)
        if max_content_length is not None:
            policy.max_length = int(_positive(max_content_length, "max_content_length"))
        try:
            redactor = redaction.build(redact_patterns, emails=redact_emails)
        except ValueError as exc:
            raise ConfigError(f"redact_patterns: {exc}") from None
        policy.patterns = redactor

        resource = build_resource(service_name, service_version, environment, resource_attributes)
        _local.clear()
        kinds = sdk_env.exporter_kinds(exporter.lower() if exporter else None, endpoint, semconv.ENV_EXPORTER)
        if "auto" in kinds.values():  # the same choice as `agent-otel report`: the running local stack, else the store
            auto_kind, auto_endpoint = _auto_destination(protocol or sdk_env.protocol_for("traces", None), store_path or settings.raw(semconv.ENV_STORE_PATH))
            kinds = {s: auto_kind if k == "auto" else k for s, k in kinds.items()}
            endpoint = endpoint or auto_endpoint
        kind = kinds["traces"] if len(set(kinds.values())) == 1 else ",".join(f"{s}={k}" for s, k in kinds.items())
        span_exp, metric_exp, log_exp = (
            _exporter(sig, kinds[sig], endpoint, protocol.lower() if protocol else None, header_map, store_path)
            for sig in sdk_env.SIGNALS
        )
        from agent_otel.stack.discovery import note_destination

        note_destination(kind, endpoint, store_path or settings.raw(semconv.ENV_STORE_PATH), resource.attributes.get("service.name"))
        # Every exporter sees only the redacted form of what any instrumentation recorded.
        span_exp, metric_exp, log_exp = redacting_exporters.wrap(span_exp, metric_exp, log_exp, redactor)

        readers = []
        if metric_exp is not None:
            readers.append(
                PeriodicExportingMetricReader(
                    metric_exp, export_interval_millis=interval_ms,
                    export_timeout_millis=None if settings.raw("OTEL_METRIC_EXPORT_TIMEOUT") else EXPORT_TIMEOUT_S * 1000,
                )
            )
        # Our own bounded `shutdown` runs at exit instead of the SDK's unbounded per-provider hooks.
        meter_provider = MeterProvider(resource=resource, metric_readers=readers, shutdown_on_exit=False)
        # No sampler from code: the SDK reads OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG itself.
        sampler = ParentBased(TraceIdRatioBased(ratio)) if ratio is not None else None
        from agent_otel.conversation import ConversationMultiSpanProcessor

        # its on_start puts gen_ai.conversation.id on every span of a conversation, then the processors run
        tracer_provider = TracerProvider(resource=resource, sampler=sampler, shutdown_on_exit=False,
                                         active_span_processor=ConversationMultiSpanProcessor())
        flushes = []  # what an early flush exports at once (agent_otel.freshness)
        if span_exp is not None:
            span_batches = BatchSpanProcessor(span_exp, meter_provider=meter_provider,
                                              **sdk_env.batch_kwargs("OTEL_BSP", queue, EXPORT_TIMEOUT_S * 1000, freshness.SPAN_DELAY_MS))
            tracer_provider.add_span_processor(span_batches)
            flushes.append(freshness.export_now(span_batches))
        logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        handler = None
        if log_exp is not None:
            log_batches = BatchLogRecordProcessor(log_exp, **sdk_env.batch_kwargs("OTEL_BLRP", queue, EXPORT_TIMEOUT_S * 1000, freshness.LOG_DELAY_MS))
            logger_provider.add_log_record_processor(log_batches)
            flushes.append(freshness.export_now(log_batches))
            handler = LoggingHandler(level=log_level or logging.NOTSET, logger_provider=logger_provider)
            logging.getLogger().addHandler(handler)

        if flushes and freshness.early_flush_enabled():
            tracer_provider.add_span_processor(freshness.EarlyFlusher(flushes, timeout_ms=int(EXPORT_TIMEOUT_S * 1000)))
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
        set_logger_provider(logger_provider)
        content.set_policy(policy)
        redaction.install(redactor)
        from agent_otel.context import instrument_context_flow

        instrument_context_flow(tracer_provider)  # threads/executors keep the trace; %(otelTraceID)s in log formats
        _state = _State(tracer_provider, meter_provider, logger_provider, handler, kind)
        _state.shutdown_threads = ParkedThreads(3, "agent-otel-shutdown")
        atexit.register(shutdown)

    if instrument:
        from agent_otel.instrumentation import instrument as _instrument

        _instrument(list(instrument))
    if resource_metrics:
        from agent_otel.resources import start_resource_metrics

        start_resource_metrics(meter_provider)


def force_flush(timeout_s: float = EXPORT_TIMEOUT_S) -> bool:
    """Export everything buffered now (e.g. before a short script exits or a report runs)."""
    from agent_otel import instruments

    instruments.flush()
    state = _state
    if state is None:
        return True
    ms = int(timeout_s * 1000)
    ok = state.tracer_provider.force_flush(ms)
    ok = state.logger_provider.force_flush(ms) and ok
    ok = state.meter_provider.force_flush(ms) and ok
    return bool(ok)


def shutdown(timeout_s: float = EXPORT_TIMEOUT_S) -> bool:
    """Flush and stop exporting within `timeout_s` in all, whatever the collector does.

    The providers shut down side by side in daemon threads that `configure()` started (none can be
    started during interpreter exit on Python 3.12+); whatever has not finished by the deadline is
    abandoned (a warning says so) so the app's exit never waits on an unreachable collector. Also
    registered with `atexit`. Returns True when everything flushed in time.
    """
    global _state
    from agent_otel import instruments

    instruments.flush()
    with _lock:
        state, _state = _state, None
    if state is None:
        return True
    if state.log_handler is not None:
        logging.getLogger().removeHandler(state.log_handler)
        # logging's exit hook flushes every live handler, and OpenTelemetry's flushes from a new
        # thread, which 3.12+ refuses at exit; its provider is shut down below, so nothing is left.
        state.log_handler.flushOnClose = False  # type: ignore[attr-defined]
    ms = int(timeout_s * 1000)
    jobs = {
        "TracerProvider": state.tracer_provider.shutdown,
        "LoggerProvider": state.logger_provider.shutdown,
        "MeterProvider": lambda: state.meter_provider.shutdown(timeout_millis=ms),
    }

    def guarded(name: str, job: Any) -> Any:
        def run() -> None:
            try:
                job()
            except Exception:  # noqa: BLE001
                _logger.warning("agent-otel: %s did not shut down cleanly", name, exc_info=True)

        return run

    names = list(jobs)
    threads = state.shutdown_threads or ParkedThreads(len(names), "agent-otel-shutdown")
    late = [names[i] for i in threads.run([guarded(n, j) for n, j in jobs.items()], timeout_s)]
    if late:
        _logger.warning("agent-otel: shutdown gave up after %.1fs; not flushed: %s (telemetry still queued is dropped)", timeout_s, ", ".join(late))
    return not late


def configured_exporter() -> str | None:
    """Which exporter `configure()` chose, or None before it ran."""
    return _state.exporter if _state else None
