"""The pieces several modules share, each defined once: header parsing, PromQL selectors, the most
severe log line of a trace."""

from __future__ import annotations

import pytest

from agent_otel.alerts.export import _selector as rule_selector
from agent_otel.alerts.rules import Rule
from agent_otel.analyzer.sources.base import SourceError
from agent_otel.analyzer.sources.severity import most_severe_per_trace
from agent_otel.config import ConfigError
from agent_otel.headers import parse_headers
from agent_otel.promql import selector


def test_headers_in_each_form_a_user_writes_them():
    assert parse_headers("Authorization=Bearer%20abc, X-Scope-OrgID=team-a", "AGENT_OTEL_LOKI_HEADERS") == {
        "Authorization": "Bearer abc", "X-Scope-OrgID": "team-a"}
    assert parse_headers(["Authorization: Bearer abc", "X-Tenant:t1"], "--header") == {"Authorization": "Bearer abc", "X-Tenant": "t1"}
    assert parse_headers({"a": 1}, "headers") == {"a": "1"}
    with pytest.raises(ConfigError, match=r"^headers: entry 2 is not key=value \(value not shown\)$"):
        parse_headers("a=1,secretvalue", "headers")
    with pytest.raises(SourceError, match=r"--header: entry 1 is not 'Name: value'"):
        parse_headers(["Bearer abc"], "--header", error=SourceError)


def test_a_selector_quotes_label_values_so_a_name_cannot_break_the_query():
    assert selector({"service_name": 'we"ird\\svc', "agent_otel_kind": None}, 'error_type!=""') == \
        '{service_name="we\\"ird\\\\svc", error_type!=""}'
    rule = Rule(name="r", type="threshold", select={"kind": "tool", "name": "web_search"})
    assert rule_selector(rule, 'error_type!=""') == '{agent_otel_kind="tool", agent_otel_name="web_search", error_type!=""}'


def test_the_most_severe_line_of_each_trace_wins_the_last_among_equals():
    lines = [("t1", "INFO", "started"), ("t1", "ERROR", "first failure"), ("t1", "warning", "slow"),
             ("t1", "ERROR", "second failure"), ("t2", None, "plain"), ("", "ERROR", "no trace")]
    assert most_severe_per_trace(lines) == {"t1": "ERROR second failure", "t2": "LOG plain"}
