"""Every telemetry name agent-otel emits, in one place, and which conventions version they follow.

Names that `opentelemetry-semantic-conventions` generates are imported from it; only the rest
(names it does not have yet, and agent-otel's own `agent_otel.*` names) are typed here.

Two conventions versions, chosen as the official GenAI instrumentations choose them:
- default: what `opentelemetry-util-genai` 1.3b0 (the base of the official
  `opentelemetry-instrumentation-genai-*` packages) emits: schema URL 1.37.0, workflow metric
  `gen_ai.invoke_workflow.duration`.
- `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`: the newest model from
  open-telemetry/semantic-conventions-genai (files and commits in
  tests/unit/conformance/model/VERSIONS): workflow metric `gen_ai.workflow.duration`.
The GenAI conventions move fast (usage counters are under discussion upstream): a rename is one
edit here.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.semconv._incubating.attributes import error_attributes as _err
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _g
from opentelemetry.semconv._incubating.attributes import openai_attributes as _oa
from opentelemetry.semconv._incubating.attributes import server_attributes as _srv
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as _gm
from opentelemetry.semconv.schemas import Schemas

from agent_otel import settings

# --- which conventions ----------------------------------------------------------------------
ENV_STABILITY_OPT_IN: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
OPT_IN_GENAI_LATEST: Final = "gen_ai_latest_experimental"
SCHEMA_URL_DEFAULT: Final = Schemas.V1_37_0.value  # as opentelemetry-util-genai 1.3b0
SCHEMA_URL_LATEST: Final = Schemas.V1_41_0.value  # last release of GenAI in the main repo; model from semantic-conventions-genai
GENAI_MODEL_COMMIT: Final = "004902b8cb70aa5ae6ca4ae07132b7daabcd3e10"  # metrics.yaml of semantic-conventions-genai we follow


def latest_experimental() -> bool:
    """True when OTEL_SEMCONV_STABILITY_OPT_IN lists gen_ai_latest_experimental (comma-separated, as the SDK reads it)."""
    raw = settings.raw(ENV_STABILITY_OPT_IN) or ""
    return OPT_IN_GENAI_LATEST in {p.strip().lower() for p in raw.split(",")}


def schema_url() -> str:
    return SCHEMA_URL_LATEST if latest_experimental() else SCHEMA_URL_DEFAULT


# --- gen_ai.operation.name values -------------------------------------------------------
_Op = _g.GenAiOperationNameValues
OP_INVOKE_AGENT: Final = _Op.INVOKE_AGENT.value
OP_EXECUTE_TOOL: Final = _Op.EXECUTE_TOOL.value
OP_CHAT: Final = _Op.CHAT.value
OP_TEXT_COMPLETION: Final = _Op.TEXT_COMPLETION.value
OP_GENERATE_CONTENT: Final = _Op.GENERATE_CONTENT.value
OP_EMBEDDINGS: Final = _Op.EMBEDDINGS.value
OP_CREATE_AGENT: Final = _Op.CREATE_AGENT.value
# Not (yet) in the generated enum: values of semantic-conventions-genai's registry.
OP_INVOKE_WORKFLOW: Final = "invoke_workflow"
OP_RETRIEVAL: Final = getattr(_Op, "RETRIEVAL", None) and _Op.RETRIEVAL.value or "retrieval"
OP_PLAN: Final = "plan"
MEMORY_OPERATIONS: Final = ("search_memory", "create_memory", "update_memory", "upsert_memory", "delete_memory")
# Operations a `step(operation=...)` may name: GenAI operations that are not model calls.
STEP_OPERATIONS: Final = (OP_RETRIEVAL, OP_PLAN, OP_INVOKE_WORKFLOW, *MEMORY_OPERATIONS)
MODEL_OPERATIONS: Final = (OP_CHAT, OP_TEXT_COMPLETION, OP_GENERATE_CONTENT, OP_EMBEDDINGS)

# --- gen_ai.* attributes (generated) -------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = _g.GEN_AI_OPERATION_NAME
GEN_AI_PROVIDER_NAME: Final = _g.GEN_AI_PROVIDER_NAME  # required; gen_ai.system is deprecated
GEN_AI_REQUEST_MODEL: Final = _g.GEN_AI_REQUEST_MODEL
GEN_AI_RESPONSE_MODEL: Final = _g.GEN_AI_RESPONSE_MODEL
GEN_AI_RESPONSE_ID: Final = _g.GEN_AI_RESPONSE_ID
GEN_AI_RESPONSE_FINISH_REASONS: Final = _g.GEN_AI_RESPONSE_FINISH_REASONS
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = _g.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
GEN_AI_REQUEST_MAX_TOKENS: Final = _g.GEN_AI_REQUEST_MAX_TOKENS
GEN_AI_REQUEST_TEMPERATURE: Final = _g.GEN_AI_REQUEST_TEMPERATURE
GEN_AI_REQUEST_TOP_P: Final = _g.GEN_AI_REQUEST_TOP_P
GEN_AI_REQUEST_TOP_K: Final = _g.GEN_AI_REQUEST_TOP_K
GEN_AI_REQUEST_SEED: Final = _g.GEN_AI_REQUEST_SEED
GEN_AI_REQUEST_STOP_SEQUENCES: Final = _g.GEN_AI_REQUEST_STOP_SEQUENCES
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = _g.GEN_AI_REQUEST_FREQUENCY_PENALTY
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = _g.GEN_AI_REQUEST_PRESENCE_PENALTY
GEN_AI_REQUEST_CHOICE_COUNT: Final = _g.GEN_AI_REQUEST_CHOICE_COUNT
GEN_AI_REQUEST_ENCODING_FORMATS: Final = _g.GEN_AI_REQUEST_ENCODING_FORMATS
GEN_AI_REQUEST_STREAM: Final = _g.GEN_AI_REQUEST_STREAM
GEN_AI_OUTPUT_TYPE: Final = _g.GEN_AI_OUTPUT_TYPE
GEN_AI_USAGE_INPUT_TOKENS: Final = _g.GEN_AI_USAGE_INPUT_TOKENS
GEN_AI_USAGE_OUTPUT_TOKENS: Final = _g.GEN_AI_USAGE_OUTPUT_TOKENS
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = _g.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = _g.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
# What opentelemetry-util-genai 1.3b0 (so every official GenAI instrumentation) writes for cache writes;
# the generated semconv package still names it cache_creation. Readers accept both.
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = _g.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = _g.GEN_AI_EMBEDDINGS_DIMENSION_COUNT
GEN_AI_TOKEN_TYPE: Final = _g.GEN_AI_TOKEN_TYPE
TOKEN_TYPE_INPUT: Final = _g.GenAiTokenTypeValues.INPUT.value
TOKEN_TYPE_OUTPUT: Final = _g.GenAiTokenTypeValues.OUTPUT.value
GEN_AI_AGENT_NAME: Final = _g.GEN_AI_AGENT_NAME
GEN_AI_AGENT_ID: Final = _g.GEN_AI_AGENT_ID
GEN_AI_AGENT_DESCRIPTION: Final = _g.GEN_AI_AGENT_DESCRIPTION
GEN_AI_AGENT_VERSION: Final = _g.GEN_AI_AGENT_VERSION
GEN_AI_CONVERSATION_ID: Final = _g.GEN_AI_CONVERSATION_ID
GEN_AI_DATA_SOURCE_ID: Final = _g.GEN_AI_DATA_SOURCE_ID
GEN_AI_WORKFLOW_NAME: Final = _g.GEN_AI_WORKFLOW_NAME
GEN_AI_TOOL_NAME: Final = _g.GEN_AI_TOOL_NAME
GEN_AI_TOOL_CALL_ID: Final = _g.GEN_AI_TOOL_CALL_ID
GEN_AI_TOOL_TYPE: Final = _g.GEN_AI_TOOL_TYPE
GEN_AI_TOOL_DESCRIPTION: Final = _g.GEN_AI_TOOL_DESCRIPTION
GEN_AI_TOOL_DEFINITIONS: Final = _g.GEN_AI_TOOL_DEFINITIONS  # opt-in content
GEN_AI_TOOL_CALL_ARGUMENTS: Final = _g.GEN_AI_TOOL_CALL_ARGUMENTS  # opt-in content
GEN_AI_TOOL_CALL_RESULT: Final = _g.GEN_AI_TOOL_CALL_RESULT  # opt-in content
GEN_AI_INPUT_MESSAGES: Final = _g.GEN_AI_INPUT_MESSAGES  # opt-in content
GEN_AI_OUTPUT_MESSAGES: Final = _g.GEN_AI_OUTPUT_MESSAGES  # opt-in content
GEN_AI_SYSTEM_INSTRUCTIONS: Final = _g.GEN_AI_SYSTEM_INSTRUCTIONS  # opt-in content
GEN_AI_RETRIEVAL_QUERY_TEXT: Final = _g.GEN_AI_RETRIEVAL_QUERY_TEXT
OPENAI_RESPONSE_SERVICE_TIER: Final = _oa.OPENAI_RESPONSE_SERVICE_TIER
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = _oa.OPENAI_RESPONSE_SYSTEM_FINGERPRINT
ERROR_TYPE: Final = _err.ERROR_TYPE
SERVER_ADDRESS: Final = _srv.SERVER_ADDRESS
SERVER_PORT: Final = _srv.SERVER_PORT
# The one event of the conventions for model calls (util-genai emits it with this name).
EVENT_INFERENCE_DETAILS: Final = "gen_ai.client.inference.operation.details"

# --- agent-otel's own attributes (no convention exists) ----------------------------------
AGENT_OTEL_KIND: Final = "agent_otel.kind"  # agent | step | tool | llm | inference | workflow
AGENT_OTEL_NAME: Final = "agent_otel.name"  # the agent/step/tool/model name, on every kind
AGENT_OTEL_STEP_NAME: Final = "agent_otel.step.name"
AGENT_OTEL_BATCH_SIZE: Final = "agent_otel.inference.batch_size"
AGENT_OTEL_INFERENCE_MODEL: Final = "agent_otel.inference.model"  # local inference is no GenAI operation
AGENT_OTEL_INFERENCE_PROVIDER: Final = "agent_otel.inference.provider"
AGENT_OTEL_ARGS: Final = "agent_otel.input"  # opt-in content of steps/agents
AGENT_OTEL_RESULT: Final = "agent_otel.output"  # opt-in content of steps/agents
AGENT_OTEL_HANDOFF_TO: Final = "agent_otel.handoff.to"  # on a handoff's transfer_to_{agent} tool span (agent_otel.handoff)
AGENT_OTEL_HANDOFF_FROM: Final = "agent_otel.handoff.from"  # on the receiving agent's invoke_agent span

KIND_AGENT: Final = "agent"
KIND_STEP: Final = "step"
KIND_TOOL: Final = "tool"
KIND_LLM: Final = "llm"
KIND_INFERENCE: Final = "inference"
KIND_WORKFLOW: Final = "workflow"

# --- metrics ----------------------------------------------------------------------------
METRIC_OPERATION_DURATION: Final = _gm.GEN_AI_CLIENT_OPERATION_DURATION  # s
METRIC_TOKEN_USAGE: Final = _gm.GEN_AI_CLIENT_TOKEN_USAGE  # {token}
METRIC_TIME_TO_FIRST_CHUNK: Final = _gm.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK  # s
METRIC_TIME_PER_OUTPUT_CHUNK: Final = _gm.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK  # s
METRIC_INVOKE_AGENT_DURATION: Final = "gen_ai.invoke_agent.duration"  # s (not generated yet)
METRIC_EXECUTE_TOOL_DURATION: Final = "gen_ai.execute_tool.duration"  # s (not generated yet)
METRIC_WORKFLOW_DURATION_DEFAULT: Final = "gen_ai.invoke_workflow.duration"  # util-genai 1.3b0
METRIC_WORKFLOW_DURATION_LATEST: Final = "gen_ai.workflow.duration"  # semantic-conventions-genai metrics.yaml
METRIC_CALLS: Final = "agent_otel.calls"  # {call}; attribute agent_otel.kind
METRIC_ERRORS: Final = "agent_otel.errors"  # {error}; attribute agent_otel.kind, error.type
METRIC_DURATION: Final = "agent_otel.duration"  # s; every agent/step/tool/llm/inference call
METRIC_INTERNAL_ERRORS: Final = "agent_otel.internal.errors"  # errors inside agent-otel itself
METRIC_DROPPED: Final = "agent_otel.telemetry.dropped"  # {item}; attribute agent_otel.reason
METRIC_REDACTIONS: Final = "agent_otel.redactions"  # {redaction}; attribute agent_otel.redaction.pattern
AGENT_OTEL_REDACTION_PATTERN: Final = "agent_otel.redaction.pattern"


def workflow_duration_metric() -> str:
    return METRIC_WORKFLOW_DURATION_LATEST if latest_experimental() else METRIC_WORKFLOW_DURATION_DEFAULT

# Resource metrics (OTel process and hardware conventions), as the report and dashboards read them.
METRIC_PROCESS_CPU_UTILIZATION: Final = "process.cpu.utilization"  # 1
METRIC_PROCESS_MEMORY_USAGE: Final = "process.memory.usage"  # By
METRIC_HW_GPU_UTILIZATION: Final = "hw.gpu.utilization"  # 1
METRIC_HW_GPU_MEMORY_USAGE: Final = "hw.gpu.memory.usage"  # By
# Spans counted by the collector's spanmetrics connector (namespace traces.span.metrics).
METRIC_SPANMETRICS_CALLS: Final = "traces.span.metrics.calls"

DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
TOKEN_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)
AGENT_DURATION_BUCKETS: Final = (
    0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6,
)
WORKFLOW_DURATION_BUCKETS: Final = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)

# Attribute sets each convention metric may carry (metrics.yaml); anything else stays off them.
_MODEL_METRIC_KEYS: Final = (
    GEN_AI_OPERATION_NAME, GEN_AI_PROVIDER_NAME, GEN_AI_REQUEST_MODEL, GEN_AI_RESPONSE_MODEL, SERVER_ADDRESS, SERVER_PORT,
)
METRIC_ATTRIBUTES: Final = {
    METRIC_OPERATION_DURATION: (*_MODEL_METRIC_KEYS, ERROR_TYPE),
    METRIC_TOKEN_USAGE: (*_MODEL_METRIC_KEYS, GEN_AI_TOKEN_TYPE),
    METRIC_TIME_TO_FIRST_CHUNK: _MODEL_METRIC_KEYS,
    METRIC_TIME_PER_OUTPUT_CHUNK: _MODEL_METRIC_KEYS,
    METRIC_INVOKE_AGENT_DURATION: (
        GEN_AI_OPERATION_NAME, GEN_AI_PROVIDER_NAME, GEN_AI_REQUEST_MODEL, GEN_AI_AGENT_NAME, GEN_AI_AGENT_ID, ERROR_TYPE,
    ),
    METRIC_EXECUTE_TOOL_DURATION: (GEN_AI_OPERATION_NAME, GEN_AI_TOOL_NAME, GEN_AI_TOOL_TYPE, GEN_AI_AGENT_NAME, ERROR_TYPE),
    METRIC_WORKFLOW_DURATION_DEFAULT: (GEN_AI_WORKFLOW_NAME, ERROR_TYPE),
    METRIC_WORKFLOW_DURATION_LATEST: (GEN_AI_WORKFLOW_NAME, ERROR_TYPE),
    METRIC_DURATION: (AGENT_OTEL_KIND, AGENT_OTEL_NAME, ERROR_TYPE),
}

# --- env vars -----------------------------------------------------------------------------
ENV_CAPTURE_CONTENT: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
ENV_EMIT_EVENT: Final = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"
ENV_AGENT_OTEL_CAPTURE_CONTENT: Final = "AGENT_OTEL_CAPTURE_CONTENT"
ENV_MAX_CONTENT_LENGTH: Final = "AGENT_OTEL_MAX_CONTENT_LENGTH"
ENV_EXPORTER: Final = "AGENT_OTEL_EXPORTER"  # otlp | local | console | none
ENV_STORE_PATH: Final = "AGENT_OTEL_STORE"  # local store file
ENV_TOKEN: Final = "AGENT_OTEL_TOKEN"  # bearer token for a collector with bearertokenauth
ENV_REDACT_EMAILS: Final = "AGENT_OTEL_REDACT_EMAILS"  # true: mask e-mail addresses too


def span_name(operation: str, target: str | None) -> str:
    """`{operation} {target}` as the conventions name spans; just the operation without target."""
    return f"{operation} {target}" if target else operation
