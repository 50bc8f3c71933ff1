"""Every setting agent-otel reads from the environment, in one table: option, environment variable,
default, type, one line of doc. The readers below are the only place the package reads `os.environ`
(a test checks it); docs/settings.md is generated from the table (`python -m agent_otel.docs_gen`).

The OpenTelemetry SDK's own variables (OTEL_EXPORTER_OTLP_*, OTEL_BSP_*, OTEL_TRACES_SAMPLER...) are
read by the SDK; agent-otel only looks at whether they are set (`sdk_env`), through `raw` here too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from agent_otel.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    option: str  # the configure() keyword or CLI option that overrides it ("" when there is none)
    env: str
    default: str
    type: str
    doc: str


SETTINGS: tuple[Setting, ...] = (
    Setting("service_name", "OTEL_SERVICE_NAME", "the script's name", "string", "service.name of every span, metric and log."),
    Setting("exporter", "AGENT_OTEL_EXPORTER", "auto", "otlp | local | console | none | auto",
            "Where telemetry goes; auto: the running local stack, else the local store (per signal: otlp,traces=local...)."),
    Setting("store_path", "AGENT_OTEL_STORE", "$XDG_DATA_HOME/agent-otel/store.db", "path", "The local store file (exporter local; `agent-otel report --store`)."),
    Setting("token", "AGENT_OTEL_TOKEN", "", "secret", "Bearer token sent to a collector that requires one; never logged."),
    Setting("capture_content", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "no_content",
            "no_content | span_only | event_only | span_and_event | true | false", "Record prompts, arguments and results (opt-in), as util-genai reads it."),
    Setting("capture_content", "AGENT_OTEL_CAPTURE_CONTENT", "no_content", "as above", "The same, when the OTel variable is unset."),
    Setting("", "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT", "by content mode", "true | false", "Emit the gen_ai.client.inference.operation.details event."),
    Setting("max_content_length", "AGENT_OTEL_MAX_CONTENT_LENGTH", "4096", "integer > 0", "Longest captured string; longer ones are cut."),
    Setting("redact_emails", "AGENT_OTEL_REDACT_EMAILS", "false", "true | false", "Mask e-mail addresses too, in everything exported."),
    Setting("--header", "AGENT_OTEL_JAEGER_HEADERS", "", "k=v,k2=v2", "Headers sent to Jaeger by the report sources (values may be %-encoded)."),
    Setting("--header", "AGENT_OTEL_PROMETHEUS_HEADERS", "", "k=v,k2=v2", "Headers sent to Prometheus by the report sources."),
    Setting("--header", "AGENT_OTEL_LOKI_HEADERS", "", "k=v,k2=v2", "Headers sent to Loki by the report sources (e.g. X-Scope-OrgID=team-a)."),
    Setting("--data-dir", "AGENT_OTEL_STACK_DIR", "$XDG_STATE_HOME/agent-otel/stack", "path", "Where `agent-otel stack up` keeps the stack's data and state."),
    Setting("", "AGENT_OTEL_CACHE", "~/.cache/agent-otel", "path", "Where `agent-otel stack install` builds and keeps the stack's programs."),
    Setting("", "AGENT_OTEL_EARLY_FLUSH", "true", "true | false",
            "Export at once when a lone span or agent run ends (telemetry answerable within ~200 ms; agent_otel.freshness)."),
    Setting("", "OTEL_SEMCONV_STABILITY_OPT_IN", "", "comma list", "gen_ai_latest_experimental: the GenAI conventions' newest attribute names."),
    Setting("", "XDG_DATA_HOME", "~/.local/share", "path", "Base of the default local store path."),
    Setting("", "XDG_STATE_HOME", "~/.local/state", "path", "Base of the default stack data dir and of where data was last written."),
)
BY_ENV = {s.env: s for s in SETTINGS}


def raw(name: str) -> str | None:
    """The variable's value, stripped; None when unset or blank."""
    value = os.environ.get(name)
    return value.strip() if value and value.strip() else None


def flag(name: str) -> bool:
    """A true/false setting: 1, true, yes, on (any case) are true; anything else, or unset, false."""
    return (raw(name) or "").lower() in ("1", "true", "yes", "on")


def positive_int(name: str) -> int | None:
    """The variable as a positive integer; None when unset; ConfigError (a ValueError) naming it otherwise."""
    value = raw(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise ConfigError(f"{name}={value!r}: expected a positive integer")
    return number


@contextlib.contextmanager
def default_for_now(name: str, value: str) -> Iterator[None]:
    """`name`=`value` unless the user set it, for the duration only; the environment is put back after."""
    before = os.environ.get(name)
    if before is None:
        os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)


def table_markdown() -> str:
    """The table as Markdown, for docs/settings.md."""
    rows = ["| option | environment variable | default | type | what it does |", "| --- | --- | --- | --- | --- |"]
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rows += [f"| {f'`{s.option}`' if s.option else ''} | `{s.env}` | {cell(s.default)} | {cell(s.type)} | {cell(s.doc)} |" for s in SETTINGS]
    return "\n".join(rows)
