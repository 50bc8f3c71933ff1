"""Every telemetry name agent-otel emits, in one place.

The GenAI conventions are still moving (they now live in
open-telemetry/semantic-conventions-genai); keeping every name here makes a rename one edit.
Names not (yet) in a convention carry the ``agent_otel.`` prefix.
"""

from __future__ import annotations

from typing import Final

# --- gen_ai.operation.name values -------------------------------------------------------
OP_INVOKE_AGENT: Final = "invoke_agent"
OP_INVOKE_WORKFLOW: Final = "invoke_workflow"
OP_EXECUTE_TOOL: Final = "execute_tool"
OP_CHAT: Final = "chat"
OP_TEXT_COMPLETION: Final = "text_completion"
OP_GENERATE_CONTENT: Final = "generate_content"
OP_EMBEDDINGS: Final = "embeddings"
# Local model inference (onnxruntime etc.) is not a named GenAI operation; we use our own.
OP_INFERENCE: Final = "inference"
OP_PLAN: Final = "plan"
OP_RETRIEVAL: Final = "retrieval"

# --- gen_ai.* attributes ------------------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"  # required; gen_ai.system is deprecated
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_AGENT_ID: Final = "gen_ai.agent.id"
GEN_AI_AGENT_DESCRIPTION: Final = "gen_ai.agent.description"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
GEN_AI_TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"  # opt-in content
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"  # opt-in content
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"  # opt-in content
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"  # opt-in content
ERROR_TYPE: Final = "error.type"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"

# --- agent-otel's own attributes (no convention exists) ----------------------------------
AGENT_OTEL_KIND: Final = "agent_otel.kind"  # agent | step | tool | llm | inference
AGENT_OTEL_NAME: Final = "agent_otel.name"  # the agent/step/tool/model name, on every kind
AGENT_OTEL_STEP_NAME: Final = "agent_otel.step.name"
AGENT_OTEL_BATCH_SIZE: Final = "agent_otel.inference.batch_size"
AGENT_OTEL_ARGS: Final = "agent_otel.input"  # opt-in content of steps/agents
AGENT_OTEL_RESULT: Final = "agent_otel.output"  # opt-in content of steps/agents

KIND_AGENT: Final = "agent"
KIND_STEP: Final = "step"
KIND_TOOL: Final = "tool"
KIND_LLM: Final = "llm"
KIND_INFERENCE: Final = "inference"
KIND_WORKFLOW: Final = "workflow"

# --- metrics ----------------------------------------------------------------------------
METRIC_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"  # s
METRIC_TOKEN_USAGE: Final = "gen_ai.client.token.usage"  # {token}
METRIC_INVOKE_AGENT_DURATION: Final = "gen_ai.invoke_agent.duration"  # s (as util-genai)
METRIC_EXECUTE_TOOL_DURATION: Final = "gen_ai.execute_tool.duration"  # s (as util-genai)
METRIC_WORKFLOW_DURATION: Final = "gen_ai.workflow.duration"  # s (util-genai 1.3b0 says invoke_workflow)
METRIC_CALLS: Final = "agent_otel.calls"  # {call}; attribute agent_otel.kind
METRIC_ERRORS: Final = "agent_otel.errors"  # {error}; attribute agent_otel.kind, error.type
METRIC_DURATION: Final = "agent_otel.duration"  # s; every agent/step/tool/llm/inference call
METRIC_INTERNAL_ERRORS: Final = "agent_otel.internal.errors"  # errors inside agent-otel itself
METRIC_DROPPED: Final = "agent_otel.telemetry.dropped"  # {item}; attribute agent_otel.reason
METRIC_REDACTIONS: Final = "agent_otel.redactions"  # {redaction}; attribute agent_otel.redaction.pattern
AGENT_OTEL_REDACTION_PATTERN: Final = "agent_otel.redaction.pattern"

DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
TOKEN_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)
AGENT_DURATION_BUCKETS: Final = (
    0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6,
)

# --- env vars -----------------------------------------------------------------------------
ENV_CAPTURE_CONTENT: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
ENV_AGENT_OTEL_CAPTURE_CONTENT: Final = "AGENT_OTEL_CAPTURE_CONTENT"
ENV_MAX_CONTENT_LENGTH: Final = "AGENT_OTEL_MAX_CONTENT_LENGTH"
ENV_EXPORTER: Final = "AGENT_OTEL_EXPORTER"  # otlp | local | console | none
ENV_STORE_PATH: Final = "AGENT_OTEL_STORE"  # local store file
ENV_TOKEN: Final = "AGENT_OTEL_TOKEN"  # bearer token for a collector with bearertokenauth
ENV_REDACT_EMAILS: Final = "AGENT_OTEL_REDACT_EMAILS"  # true: mask e-mail addresses too


def span_name(operation: str, target: str | None) -> str:
    """`{operation} {target}` as the conventions name spans; just the operation without target."""
    return f"{operation} {target}" if target else operation
