"""One error family: a caller can catch every deliberate agent-otel error with `AgentOtelError`,
and branch on an empty window by type, not by reading the message."""

from __future__ import annotations

import importlib

import pytest

from agent_otel.errors import AgentOtelError, EmptyWindowError, SourceError

PUBLIC_ERRORS = [
    ("agent_otel.config", "ConfigError"),
    ("agent_otel.analyzer.sources.base", "SourceError"),
    ("agent_otel.analyzer.pricing", "PriceError"),
    ("agent_otel.alerts.rules", "RuleError"),
    ("agent_otel.alerts.notify", "ReceiverError"),
    ("agent_otel.stack.processes", "StackError"),
    ("agent_otel.stack.binaries", "BuildError"),
    ("agent_otel.optimize.measure", "ModelError"),
    ("agent_otel.optimize.budget", "BudgetExceeded"),
]


@pytest.mark.parametrize(("module", "name"), PUBLIC_ERRORS)
def test_every_public_error_is_an_agent_otel_error_importable_where_it_was(module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, AgentOtelError)
    with pytest.raises(AgentOtelError, match="what went wrong"):
        raise cls("what went wrong")


def test_bad_configuration_is_caught_as_the_family_and_as_value_error() -> None:
    import agent_otel

    with pytest.raises(agent_otel.AgentOtelError, match="sample_ratio"):
        agent_otel.configure(service_name="t", exporter="none", sample_ratio=7)
    with pytest.raises(ValueError, match="sample_ratio"):
        agent_otel.configure(service_name="t", exporter="none", sample_ratio=7)


def test_an_empty_window_is_a_typed_error_and_alerts_treat_it_as_no_data(tmp_path) -> None:
    """A window with no spans raises EmptyWindowError from the report; evaluate() fires nothing."""
    from agent_otel.alerts.evaluate import evaluate
    from agent_otel.alerts.rules import load_rules
    from agent_otel.analyzer.report import build_report
    from agent_otel.analyzer.sources.local import LocalSource
    from spanwriter import T0, Writer

    Writer(tmp_path / "s.db").span("tool", "search", 0, 5)
    source = LocalSource(tmp_path / "s.db")
    with pytest.raises(EmptyWindowError) as caught:
        build_report(source, 0, 10)
    assert isinstance(caught.value, SourceError) and "no spans in the window" in str(caught.value)

    rules = tmp_path / "r.yaml"
    rules.write_text("rules:\n- name: Slow\n  type: threshold\n  select: {kind: tool}\n  figure: latency_ms.p95\n  op: '>'\n  value: 1\n"
                     "- name: Worse\n  type: regression\n  select: {kind: tool}\n")
    assert evaluate(load_rules(rules), source, window_s=60, now_ns=T0 - 10**12) == []
    fired = evaluate(load_rules(rules), source, window_s=3600, now_ns=T0 + 10**12)
    assert [i.rule.name for i in fired] == ["Slow"]
