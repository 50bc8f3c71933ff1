"""Checks read from the conventions' own model (vendored under model/, see model/VERSIONS), in both modes:
requirement levels of each span type, metric names/units/instruments/attribute sets, bucket
boundaries, and the JSON schemas of captured content (span attributes and the details event).
"""

from __future__ import annotations

from opentelemetry.semconv.schemas import Schemas

import json
from pathlib import Path
from typing import Any

import jsonschema
import openai
import pytest
import yaml
from opentelemetry.sdk.metrics.export import HistogramDataPoint
from opentelemetry.trace import SpanKind

import agent_otel
from agent_otel import content, semconv
from instrumentation.fake_providers import FakeProvider, openai_answer

MODEL = Path(__file__).parent / "model"
SPANS = yaml.safe_load((MODEL / "spans.yaml").read_text())
METRICS = yaml.safe_load((MODEL / "metrics.yaml").read_text())
GROUPS = {g["id"]: g for g in SPANS["attribute_groups"] + METRICS["attribute_groups"]}
SCHEMAS = {name: json.loads((MODEL / f"gen-ai-{name}.json").read_text())
           for name in ("input-messages", "output-messages", "system-instructions", "tool-definitions")}
CONTENT_SCHEMA = {
    semconv.GEN_AI_INPUT_MESSAGES: "input-messages", semconv.GEN_AI_OUTPUT_MESSAGES: "output-messages",
    semconv.GEN_AI_SYSTEM_INSTRUCTIONS: "system-instructions", semconv.GEN_AI_TOOL_DEFINITIONS: "tool-definitions",
}
# Advisory bucket boundaries of the conventions (docs/gen-ai/gen-ai-metrics.md; util-genai 1.3b0).
DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]


def resolve(attributes: list[dict[str, Any]]) -> dict[str, Any]:
    """attribute key -> requirement level, ref_groups expanded (later entries refine earlier ones)."""
    out: dict[str, Any] = {}
    for entry in attributes:
        if "ref_group" in entry:
            group = GROUPS.get(entry["ref_group"])
            if group is None:
                raise KeyError(entry["ref_group"])
            out.update(resolve(group["attributes"]))
        else:
            out[entry["ref"]] = entry.get("requirement_level", "recommended")
    return out


SPAN_TYPES = {s["type"]: (s["kind"], resolve(s["attributes"])) for s in SPANS["spans"]}
MODEL_METRICS = {m["name"]: m for m in METRICS["metrics"]}
OPENAI_METRIC_ATTRIBUTES = {semconv.OPENAI_RESPONSE_SERVICE_TIER, semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT}


def span_type(span: Any) -> str:
    op = span.attributes[semconv.GEN_AI_OPERATION_NAME]
    return {
        "chat": "gen_ai.inference.client", "text_completion": "gen_ai.inference.client", "generate_content": "gen_ai.inference.client",
        "embeddings": "gen_ai.embeddings.client", "retrieval": "gen_ai.retrieval.client", "execute_tool": "gen_ai.execute_tool.internal",
        "invoke_workflow": "gen_ai.invoke_workflow.internal", "plan": "gen_ai.plan.internal",
        "invoke_agent": "gen_ai.invoke_agent.internal" if span.kind == SpanKind.INTERNAL else "gen_ai.invoke_agent.client",
    }[op]


# Conditions of conditionally_required attributes that a scenario can decide from the span itself.
def condition_holds(key: str, span: Any) -> bool | None:
    a = span.attributes
    if key == semconv.SERVER_PORT:
        return semconv.SERVER_ADDRESS in a
    if key == semconv.ERROR_TYPE:
        return span.status.status_code.name == "ERROR"
    if key == semconv.GEN_AI_REQUEST_MODEL:
        return span.name.count(" ") >= 1 and span_type(span) in ("gen_ai.inference.client", "gen_ai.embeddings.client")
    if key == semconv.GEN_AI_WORKFLOW_NAME:
        return span.name.startswith("invoke_workflow ")
    if key == semconv.GEN_AI_AGENT_NAME:
        return span.name.startswith("invoke_agent ")
    return None  # not decidable from the span: not asserted


def assert_requirement_levels(span: Any) -> None:
    kind, attrs = SPAN_TYPES[span_type(span)]
    assert span.kind.name.lower() == kind, f"{span.name}: kind {span.kind.name}, model says {kind}"
    for key, level in attrs.items():
        if level == "required":
            assert key in span.attributes, f"{span.name}: required {key} missing"
        elif isinstance(level, dict) and "conditionally_required" in level and condition_holds(key, span):
            assert key in span.attributes, f"{span.name}: conditionally required {key} missing ({level['conditionally_required']})"


@pytest.fixture
def capture(monkeypatch):
    monkeypatch.setenv(semconv.ENV_CAPTURE_CONTENT, "span_and_event")
    content.set_policy(None)
    yield
    content.set_policy(None)


def run_scenario(own) -> None:  # noqa: ANN001
    from agent_otel.instrumentation import instrument, uninstrument

    instrument(["openai"])
    try:
        with FakeProvider(openai_answer) as server:
            client = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)

            @agent_otel.workflow("support")
            def flow():
                return helper("where is my parcel?")

            @agent_otel.agent("helper", provider="openai")
            def helper(question):
                plan(question)
                kb(question)
                track("p-1")
                client.chat.completions.create(model="gpt-4o", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": question}],
                                               tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}], seed=3)
                list(client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": question}], stream=True,
                                                    stream_options={"include_usage": True}))
                client.embeddings.create(model="text-embedding-3-small", input=question)
                with pytest.raises(openai.RateLimitError):
                    client.chat.completions.create(model="fail", messages=[{"role": "user", "content": "x"}])
                return answer(question)

            @agent_otel.step("make-plan", operation="plan")
            def plan(q):
                return q

            @agent_otel.step("kb", operation="retrieval", data_source_id="kb-1")
            def kb(q):
                return [q]

            @agent_otel.tool("track")
            def track(parcel):
                return {"status": "shipped"}

            @agent_otel.llm(model="claude-sonnet-4")
            def answer(question):
                agent_otel.record_usage(10, 4)
                return "It has shipped."

            flow()
    finally:
        uninstrument(["openai"])


def test_spans_meet_the_models_requirement_levels(mode, own, capture):
    run_scenario(own)
    spans = [s for s in own.spans() if semconv.GEN_AI_OPERATION_NAME in s.attributes]
    assert {span_type(s) for s in spans} == {
        "gen_ai.invoke_workflow.internal", "gen_ai.invoke_agent.internal", "gen_ai.plan.internal", "gen_ai.retrieval.client",
        "gen_ai.execute_tool.internal", "gen_ai.inference.client", "gen_ai.embeddings.client",
    }
    for span in spans:
        assert_requirement_levels(span)


def test_content_follows_the_json_schemas_on_spans_and_in_the_event(mode, own, capture):
    run_scenario(own)
    seen = set()
    for span in own.spans():
        for key, schema in CONTENT_SCHEMA.items():
            if key in span.attributes:
                jsonschema.validate(json.loads(span.attributes[key]), SCHEMAS[schema])
                seen.add((span.name, key))
    assert ("chat gpt-4o", semconv.GEN_AI_TOOL_DEFINITIONS) in seen
    assert ("chat claude-sonnet-4", semconv.GEN_AI_OUTPUT_MESSAGES) in seen
    tool_chat = next(s for s in own.spans() if s.name == "chat gpt-4o" and semconv.GEN_AI_TOOL_DEFINITIONS in s.attributes)
    out = json.loads(tool_chat.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])
    assert out[0]["parts"][0] == {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}
    streamed = next(s for s in own.spans() if s.name == "chat gpt-4o" and s.attributes.get(semconv.GEN_AI_REQUEST_STREAM))
    assert json.loads(streamed.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])[0]["parts"] == [{"type": "text", "content": "Hello"}]
    events = [r for r in own.logs() if r.event_name == semconv.EVENT_INFERENCE_DETAILS]
    assert len(events) == 4  # chat with tools, stream, rate-limited chat, @llm
    for event in events:
        assert event.attributes[semconv.GEN_AI_OPERATION_NAME] == "chat"
        for key, schema in CONTENT_SCHEMA.items():
            if key in event.attributes:
                jsonschema.validate(json.loads(json.dumps(event.attributes[key], default=list)), SCHEMAS[schema])


def test_metrics_match_the_model(mode, own, capture):
    run_scenario(own)
    every = own.metrics_all()  # one collection, no flush call; a metric per scope that recorded it
    got = {name: next(((m, sc) for m, sc in found if sc.name == "agent_otel"), found[0]) for name, found in every.items()}
    workflow = semconv.METRIC_WORKFLOW_DURATION_LATEST if mode == "latest" else semconv.METRIC_WORKFLOW_DURATION_DEFAULT
    expected = {
        semconv.METRIC_OPERATION_DURATION: DURATION_BUCKETS, semconv.METRIC_TOKEN_USAGE: TOKEN_BUCKETS,
        semconv.METRIC_TIME_TO_FIRST_CHUNK: DURATION_BUCKETS, semconv.METRIC_TIME_PER_OUTPUT_CHUNK: DURATION_BUCKETS,
        semconv.METRIC_EXECUTE_TOOL_DURATION: DURATION_BUCKETS,
        semconv.METRIC_INVOKE_AGENT_DURATION: [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6],
        workflow: DURATION_BUCKETS if mode == "latest" else [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200],
    }
    for name, buckets in expected.items():
        assert name in every, f"{name} not collected; got {sorted(every)}"
        for metric, scope in every[name]:
            # agent-otel's scope follows the conventions mode; the official OpenAI instrumentation pins util-genai's version
            assert scope.schema_url == (semconv.schema_url() if scope.name == "agent_otel" else Schemas.V1_37_0.value), scope.name
            points = metric.data.data_points
            assert points and all(isinstance(p, HistogramDataPoint) for p in points)
            assert [float(b) for b in points[0].explicit_bounds] == [float(b) for b in buckets], (name, scope.name)
            spec = MODEL_METRICS.get(name)
            if spec is None:
                assert mode == "default" and name == semconv.METRIC_WORKFLOW_DURATION_DEFAULT  # util-genai 1.3b0's name
                continue
            assert spec["instrument"] == "histogram" and metric.unit == spec["unit"], name
            try:
                allowed = resolve(spec["attributes"])
            except KeyError:
                allowed = None  # group not in the vendored excerpt (agent / tool durations): names and units only
            for p in points:
                keys = set(p.attributes)
                assert not [k for k in keys if k.startswith("agent_otel.")], f"{name}: agent-otel attributes {keys}"
                if allowed is not None:
                    # The OpenAI conventions (gen-ai/openai.md) add these two to the client metrics of OpenAI calls.
                    extra = OPENAI_METRIC_ATTRIBUTES if p.attributes.get(semconv.GEN_AI_PROVIDER_NAME) == "openai" else set()
                    assert keys <= set(allowed) | extra, f"{name}: {keys - set(allowed)} not in the model"
                    required = {k for k, lvl in allowed.items() if lvl == "required"}
                    assert required <= keys, f"{name}: required {required - keys} missing"
    op = [p for m, _ in every[semconv.METRIC_OPERATION_DURATION] for p in m.data.data_points]
    assert any(p.attributes.get(semconv.ERROR_TYPE) == "openai.RateLimitError" for p in op)
    assert any(p.attributes.get(semconv.SERVER_ADDRESS) == "127.0.0.1" and p.attributes.get(semconv.GEN_AI_RESPONSE_MODEL) for p in op)
    tools = got[semconv.METRIC_EXECUTE_TOOL_DURATION][0].data.data_points
    assert [(p.attributes[semconv.GEN_AI_TOOL_NAME], p.attributes[semconv.GEN_AI_AGENT_NAME]) for p in tools] == [("track", "helper")]
    agents = got[semconv.METRIC_INVOKE_AGENT_DURATION][0].data.data_points
    assert [p.attributes[semconv.GEN_AI_AGENT_NAME] for p in agents] == ["helper"]
    flows = got[workflow][0].data.data_points
    assert [p.attributes[semconv.GEN_AI_WORKFLOW_NAME] for p in flows] == ["support"]
    own_points = got[semconv.METRIC_DURATION][0].data.data_points
    assert {p.attributes[semconv.AGENT_OTEL_KIND] for p in own_points} >= {"agent", "tool", "llm", "workflow", "step"}
