"""Metrics a dashboard relies on, and content that must not leak unless the user asks for it."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agent_otel
from agent_otel import content, semconv
from agent_otel.sanitize import clean_attributes


def points(otel_metrics, name):
    return otel_metrics.get(name, [])


def test_duration_and_token_metrics_follow_semconv(otel):
    @agent_otel.llm(model="gpt-4o", provider="openai")
    def chat():
        agent_otel.record_usage(input_tokens=100, output_tokens=7)

    @agent_otel.tool("t")
    def tool():
        raise ValueError("x")

    chat()
    with pytest.raises(ValueError):
        tool()

    m = otel.metrics()
    (op,) = points(m, semconv.METRIC_OPERATION_DURATION)
    assert op.attributes[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert op.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert list(op.explicit_bounds) == list(semconv.DURATION_BUCKETS)
    tokens = {p.attributes[semconv.GEN_AI_TOKEN_TYPE]: p for p in points(m, semconv.METRIC_TOKEN_USAGE)}
    assert tokens["input"].sum == 100 and tokens["output"].sum == 7
    assert list(tokens["input"].explicit_bounds) == list(semconv.TOKEN_BUCKETS)

    by_kind = {(p.attributes[semconv.AGENT_OTEL_KIND], p.attributes.get(semconv.ERROR_TYPE)): p.count for p in points(m, semconv.METRIC_DURATION)}
    assert by_kind == {("llm", None): 1, ("tool", "ValueError"): 1}
    (tool_point,) = points(m, semconv.METRIC_EXECUTE_TOOL_DURATION)
    assert tool_point.attributes[semconv.ERROR_TYPE] == "ValueError"


def test_metric_units(otel):
    agent_otel.step("unit_probe")(lambda: None)()
    agent_otel.llm(model="m")(lambda: agent_otel.record_usage(1, 1))()
    from agent_otel import instruments

    instruments.flush()
    data = otel.metric_reader.get_metrics_data()
    units = {m.name: m.unit for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert units[semconv.METRIC_DURATION] == "s"
    assert units[semconv.METRIC_OPERATION_DURATION] == "s"
    assert units[semconv.METRIC_TOKEN_USAGE] == "{token}"


def test_content_not_captured_by_default(otel, content_env):
    content_env(**{semconv.ENV_CAPTURE_CONTENT: None})

    @agent_otel.tool("private")
    def private(secret_query):
        return "answer"

    private("my question")
    attrs = otel.span("execute_tool private").attributes
    assert semconv.GEN_AI_TOOL_CALL_ARGUMENTS not in attrs
    assert semconv.GEN_AI_TOOL_CALL_RESULT not in attrs


def test_content_opt_in_is_truncated_and_redacted(otel, content_env):
    content_env(**{semconv.ENV_CAPTURE_CONTENT: "true", semconv.ENV_MAX_CONTENT_LENGTH: "120"})

    @agent_otel.tool("search")
    def search(query, api_key=None):
        return {"hits": ["x" * 500], "contact": "jane@example.com"}

    search("weather", api_key="sk-abcdefghijklmnopqrstuvwx")
    attrs = otel.span("execute_tool search").attributes
    args = attrs[semconv.GEN_AI_TOOL_CALL_ARGUMENTS]
    assert json.loads(args)["query"] == "weather"
    assert "sk-abcdef" not in args and content.REDACTED in args
    result = attrs[semconv.GEN_AI_TOOL_CALL_RESULT]
    assert len(result) <= 120 and result.endswith("...")


def test_decorator_option_overrides_env(otel, content_env):
    content_env(**{semconv.ENV_CAPTURE_CONTENT: None})

    @agent_otel.step("explicit", capture_content=True)
    def explicit(x):
        return x

    explicit("Bearer abc.def.ghi")
    attrs = otel.span("explicit").attributes
    assert content.REDACTED in attrs[semconv.AGENT_OTEL_ARGS]
    assert "abc.def" not in attrs[semconv.AGENT_OTEL_RESULT]


def test_redaction_of_default_secret_shapes():
    text = "key sk-proj-ABCDEFGHIJKLMNOPQRSTUV auth: Bearer eyJhbGciOi.eyJzdWIi.sig mail bob@corp.io AKIAABCDEFGHIJKLMNOP"
    out = content.redact(text, content.ContentPolicy(patterns=content.compile_patterns(())))
    for secret in ("sk-proj-ABC", "eyJhbGciOi", "AKIAABCDEFGHIJKLMNOP"):
        assert secret not in out
    assert "bob@corp.io" in out  # e-mail addresses are masked only on request
    assert "bob@corp.io" not in content.redact(text, content.ContentPolicy(patterns=content.compile_patterns((), emails=True)))


def test_bad_redact_pattern_is_named():
    with pytest.raises(ValueError, match=r"redact pattern '\(' is not a valid"):
        content.compile_patterns(["("])


class Weird:
    def __repr__(self):
        raise RuntimeError("no repr")


attribute_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
        st.text(), st.binary(max_size=64),
    ),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), attribute_values, max_size=6))
def test_any_attribute_mapping_becomes_valid_attributes(attrs):
    cleaned = clean_attributes(attrs)
    for key, value in cleaned.items():
        assert isinstance(key, str) and key
        values = value if isinstance(value, list) else [value]
        assert len({type(v) for v in values}) <= 1
        for v in values:
            assert isinstance(v, (bool, str, int, float))
            if isinstance(v, float):
                assert math.isfinite(v)
            if isinstance(v, str):
                v.encode("utf-8")


def test_unrepresentable_values_are_replaced_not_raised():
    cleaned = clean_attributes({"obj": Weird(), "nested": [1, Weird()]})
    assert cleaned == {"obj": "<Weird>", "nested": "<list>"}


def assert_well_formed(span, name):
    """A finished span of that name whose every attribute is a value OpenTelemetry accepts."""
    assert span.name == name and span.end_time is not None and span.end_time >= span.start_time
    for key, v in span.attributes.items():
        values = list(v) if isinstance(v, (list, tuple)) else [v]
        assert isinstance(key, str) and key and len({type(x) for x in values}) <= 1, (key, v)
        assert all(isinstance(x, (bool, str, int, float)) and not (isinstance(x, float) and not math.isfinite(x)) for x in values), (key, v)


_SHARED_FIXTURES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SHARED_FIXTURES
@given(attribute_values)
def test_decorated_call_succeeds_whatever_the_attributes(otel, internal_errors, value):
    """Any attribute value: the call returns its result, one well-formed span, no internal error swallowed."""
    otel.span_exporter.clear()

    @agent_otel.step("hypo", attributes={"v": value})
    def work():
        return 42

    assert work() == 42
    assert_well_formed(otel.span("hypo"), "hypo")
    assert internal_errors() == {}


@_SHARED_FIXTURES
@given(st.recursive(st.text() | st.binary() | st.floats(), lambda c: st.lists(c, max_size=3), max_leaves=30))
def test_captured_arguments_of_any_shape_do_not_break_the_call(otel, internal_errors, value):
    otel.span_exporter.clear()

    @agent_otel.tool("capture_any", capture_content=True)
    def echo(v):
        return v

    assert echo(value) is value
    span = otel.span("execute_tool capture_any")
    assert_well_formed(span, "execute_tool capture_any")
    assert isinstance(span.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS], str)
    assert internal_errors() == {}


def test_deeply_recursive_argument_is_captured_safely(otel):
    deep: list = []
    cur = deep
    for _ in range(5000):
        nxt: list = []
        cur.append(nxt)
        cur = nxt

    @agent_otel.tool("deep", capture_content=True)
    def echo(v):
        return "ok"

    assert echo(deep) == "ok"
    assert semconv.GEN_AI_TOOL_CALL_ARGUMENTS in otel.span("execute_tool deep").attributes


def test_sanitised_attributes_are_counted_by_reason(otel):
    """Every rewrite of a user's attribute shows up in agent_otel.telemetry.dropped, by reason."""

    @agent_otel.step(
        "dirty",
        attributes={
            "nan": float("nan"),
            "inf": float("-inf"),
            "raw": b"\xff\xfe",
            "huge": "x" * 100_000,
            "big": 2**70,
            "gone": None,
            "obj": Weird(),
        },
    )
    def work():
        return "ok"

    assert work() == "ok"
    attrs = otel.span("dirty").attributes
    assert attrs["nan"] == "nan" and attrs["inf"] == "-inf" and attrs["big"] == str(2**70)
    assert "gone" not in attrs and attrs["obj"] == "<Weird>"
    assert len(attrs["huge"]) < 100_000
    reasons = {p.attributes["agent_otel.reason"]: p.value for p in points(otel.metrics(), semconv.METRIC_DROPPED)}
    for reason in ("non_finite", "bytes", "truncated", "int_overflow", "none", "unrepresentable"):
        assert reasons.get(reason, 0) >= 1, (reason, reasons)


def test_nan_token_count_is_skipped_and_counted_not_raised(otel):
    @agent_otel.llm(model="m")
    def chat():
        agent_otel.record_usage(input_tokens=float("nan"), output_tokens=3)
        return "answer"

    assert chat() == "answer"
    m = otel.metrics()
    assert sum(p.value for p in points(m, semconv.METRIC_INTERNAL_ERRORS)) >= 1
    assert all(math.isfinite(p.sum) for p in points(m, semconv.METRIC_TOKEN_USAGE))
