"""The OpenTelemetry SDK configuration variables, honoured by handing them to the SDK's own readers.

`configure()` passes the SDK components only what was given in code; whatever was not given is
left `None`, so the SDK reads its own variables as the specification says:
OTEL_TRACES_SAMPLER(+_ARG) (TracerProvider), OTEL_EXPORTER_OTLP_[TRACES_|METRICS_|LOGS_]ENDPOINT /
HEADERS / CERTIFICATE / CLIENT_KEY / CLIENT_CERTIFICATE / COMPRESSION / TIMEOUT / INSECURE (the OTLP
exporters), OTEL_BSP_* / OTEL_BLRP_* (batch processors), OTEL_METRIC_EXPORT_INTERVAL /
_TIMEOUT (PeriodicExportingMetricReader), OTEL_SDK_DISABLED (providers).

What this module adds is what the SDK leaves to a distro: choosing the exporter of each signal
(OTEL_{TRACES,METRICS,LOGS}_EXPORTER = otlp | console | none, plus agent-otel's `local`), the
OTLP protocol of each signal (OTEL_EXPORTER_OTLP_[SIGNAL_]PROTOCOL picks the gRPC or HTTP
exporter class), and guarding values the SDK would raise on (a negative OTEL_BSP_SCHEDULE_DELAY):
an unparseable value is warned about once and treated as unset, as the configuration spec asks.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from agent_otel import settings
from agent_otel.errors import ConfigError

_logger = logging.getLogger("agent_otel")
_warned: set[str] = set()
SIGNALS = ("traces", "metrics", "logs")
EXPORTERS = ("otlp", "local", "console", "none", "auto")
PROTOCOLS = ("grpc", "http/protobuf")
_PATHS = {"traces": "/v1/traces", "metrics": "/v1/metrics", "logs": "/v1/logs"}


def warn_once(name: str, value: str, expected: str) -> None:
    if name not in _warned:
        _warned.add(name)
        _logger.warning("agent-otel: %s=%r is not valid (expected %s); treated as unset", name, value, expected)


env = settings.raw  # the SDK's variables are looked at (set or not), never parsed twice


@contextlib.contextmanager
def sdk_internal_metrics() -> Iterator[None]:
    """OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true while `configure()` builds the providers: the SDK's
    own processor/exporter metrics make drops visible (bounded queue, failed export). The SDK reads
    the variable only when a provider or processor is built and takes no argument for it, so it is
    set for that moment and put back as it was: configure() leaves the process environment unchanged."""
    with settings.default_for_now("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true"):
        yield


def env_choice(name: str, allowed: tuple[str, ...]) -> str | None:
    """A variable whose value must be one of `allowed` (first of a comma list); otherwise warned and unset."""
    raw = env(name)
    if raw is None:
        return None
    value = raw.split(",")[0].strip().lower()
    if value not in allowed:
        warn_once(name, raw, " | ".join(allowed))
        return None
    return value


def sdk_disabled() -> bool:
    """OTEL_SDK_DISABLED: "true" (case-insensitive) disables; "false" or unset does not; anything else is warned."""
    raw = env("OTEL_SDK_DISABLED")
    if raw is None or raw.lower() == "false":
        return False
    if raw.lower() == "true":
        return True
    warn_once("OTEL_SDK_DISABLED", raw, "true | false")
    return False


def any_otlp_endpoint() -> bool:
    names = ["OTEL_EXPORTER_OTLP_ENDPOINT"] + [f"OTEL_EXPORTER_OTLP_{s.upper()}_ENDPOINT" for s in SIGNALS]
    return any(env(n) for n in names)


def exporter_kinds(exporter: str | None, endpoint: str | None, agent_otel_env: str) -> dict[str, str]:
    """The exporter of each signal: code argument, else OTEL_<SIGNAL>_EXPORTER, else AGENT_OTEL_EXPORTER,
    else otlp when an endpoint is known, else "auto" (the running local stack, else the local store). `exporter` (code) was validated already."""
    if exporter:
        return {s: exporter for s in SIGNALS}
    base = env_choice(agent_otel_env, EXPORTERS) or ("otlp" if endpoint or any_otlp_endpoint() else "auto")
    return {s: env_choice(f"OTEL_{s.upper()}_EXPORTER", EXPORTERS) or base for s in SIGNALS}


def protocol_for(signal: str, protocol: str | None) -> str:
    if protocol:
        return protocol
    return (env_choice(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL", PROTOCOLS)
            or env_choice("OTEL_EXPORTER_OTLP_PROTOCOL", PROTOCOLS) or "grpc")


def _env_headers(signal: str) -> dict[str, str]:
    from opentelemetry.util.re import parse_env_headers

    raw = env(f"OTEL_EXPORTER_OTLP_{signal.upper()}_HEADERS") or env("OTEL_EXPORTER_OTLP_HEADERS") or ""
    return dict(parse_env_headers(raw, liberal=True))


def otlp_exporter(signal: str, protocol: str, endpoint: str | None, headers: Mapping[str, str] | None, timeout_s: float) -> Any:
    """An OTLP exporter of `signal`; only code arguments are passed, the SDK reads the variables for the rest."""
    kwargs: dict[str, Any] = {}
    if not (env(f"OTEL_EXPORTER_OTLP_{signal.upper()}_TIMEOUT") or env("OTEL_EXPORTER_OTLP_TIMEOUT")):
        kwargs["timeout"] = timeout_s  # agent-otel's bounded default; the variable wins when set
    if headers:
        kwargs["headers"] = {**_env_headers(signal), **headers}  # code headers (and the token) on top of the variable's
    if protocol == "grpc":
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as cls
        elif signal == "metrics":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as cls
        else:
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as cls
        if endpoint:
            kwargs["endpoint"] = endpoint
            kwargs["insecure"] = endpoint.startswith("http://")
        return cls(**kwargs)
    if signal == "traces":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as hcls
    elif signal == "metrics":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as hcls
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as hcls
    if endpoint:
        kwargs["endpoint"] = endpoint.rstrip("/") + _PATHS[signal]
    return hcls(**kwargs)


def _positive_int_env(name: str) -> int | None:
    try:
        return settings.positive_int(name)
    except ConfigError:
        warn_once(name, env(name) or "", "a positive integer")
        return None


# SDK defaults, passed explicitly only where a variable was unusable (the SDK would raise on it).
_BATCH_DEFAULTS = {"MAX_QUEUE_SIZE": 2048, "SCHEDULE_DELAY": 5000, "MAX_EXPORT_BATCH_SIZE": 512, "EXPORT_TIMEOUT": 30000}
_BATCH_KWARGS = {"MAX_QUEUE_SIZE": "max_queue_size", "SCHEDULE_DELAY": "schedule_delay_millis",
                 "MAX_EXPORT_BATCH_SIZE": "max_export_batch_size", "EXPORT_TIMEOUT": "export_timeout_millis"}


def batch_kwargs(prefix: str, max_queue_size: int | None, export_timeout_ms: float, schedule_delay_ms: int | None = None) -> dict[str, Any]:
    """Keyword arguments of a BatchSpanProcessor (OTEL_BSP) / BatchLogRecordProcessor (OTEL_BLRP).

    A valid variable is left to the SDK (argument None); an unusable one is warned about and replaced
    by the SDK default; `max_queue_size` from code wins over the variable. `schedule_delay_ms` is
    agent-otel's default delay (agent_otel.freshness), used when <prefix>_SCHEDULE_DELAY is unset
    or unusable.
    """
    out: dict[str, Any] = {}
    values: dict[str, int] = {}
    for suffix, kwarg in _BATCH_KWARGS.items():
        name = f"{prefix}_{suffix}"
        value = _positive_int_env(name)
        if value is None and env(name) is not None:
            out[kwarg] = _BATCH_DEFAULTS[suffix]
        values[suffix] = value or _BATCH_DEFAULTS[suffix]
    if max_queue_size is not None:
        out["max_queue_size"] = values["MAX_QUEUE_SIZE"] = int(max_queue_size)
    if values["MAX_EXPORT_BATCH_SIZE"] > values["MAX_QUEUE_SIZE"]:
        out["max_export_batch_size"] = values["MAX_QUEUE_SIZE"]  # the SDK would raise
    if env(f"{prefix}_EXPORT_TIMEOUT") is None:
        out["export_timeout_millis"] = export_timeout_ms  # agent-otel's bounded default
    if schedule_delay_ms is not None and _positive_int_env(f"{prefix}_SCHEDULE_DELAY") is None:
        out["schedule_delay_millis"] = schedule_delay_ms  # agent-otel's shorter default; the variable wins when valid
    return out
