"""The typed report: both builders produce it, it round-trips through its JSON, and figures are
addressed through one accessor that knows which exist."""

from __future__ import annotations

import json

import pytest

from agent_otel.alerts.rules import RuleError, load_rules
from agent_otel.analyzer import Report, build_report
from agent_otel.analyzer.model import Group, Latency, figure_paths
from agent_otel.analyzer.sources.local import LocalSource
from spanwriter import MS, T0, Writer


def report(tmp_path) -> Report:
    w = Writer(tmp_path / "s.db")
    for i in range(10):
        root = w.span("agent", "bot", i * 100, 50 + i)
        w.span("tool", "search", i * 100 + 1, 20, parent=root)
    return build_report(LocalSource(tmp_path / "s.db"), T0, T0 + 3_600_000 * MS)


def test_the_report_is_typed_and_round_trips_through_its_json(tmp_path):
    rep = report(tmp_path)
    assert isinstance(rep, Report) and isinstance(rep.groups[0], Group) and isinstance(rep.groups[0].latency_ms, Latency)
    bot = next(g for g in rep.groups if g.name == "bot")
    assert (bot.count, bot.latency_ms.max) == (10, 59.0)
    again = Report.from_dict(json.loads(rep.to_json(with_samples=True)))
    assert again == rep
    assert "baseline" not in rep.to_dict()["groups"][0]  # absent without a baseline, not null
    assert "conversations" not in rep.to_dict() and rep.conversations == []


def test_a_report_file_with_an_unknown_key_is_refused_by_path(tmp_path):
    data = report(tmp_path).to_dict()
    data["groups"][1]["latency_ms"]["p42"] = 3.0
    with pytest.raises(ValueError, match=r"report\.groups\[1\]\.latency_ms: unknown key\(s\) p42"):
        Report.from_dict(data)


def test_figures_are_read_through_the_accessor_and_an_unknown_one_is_an_error(tmp_path):
    rep = report(tmp_path)
    (_, bot), = [(labels, g) for labels, g in rep.scope_items("groups") if labels["name"] == "bot"]
    assert Report.figure(bot, "latency_ms.max") == 59.0
    assert Report.figure(rep.totals, "spans") == 20.0
    assert "latency_ms.p95" in figure_paths(Group) and "histogram" not in figure_paths(Group)
    with pytest.raises(KeyError, match="latency_ms.p96"):
        Report.figure(bot, "latency_ms.p96")


def test_a_rule_naming_a_figure_the_model_lacks_is_refused_at_load(tmp_path):
    rules = tmp_path / "r.yaml"
    rules.write_text("rules:\n- name: Slow\n  type: threshold\n  select: {kind: tool}\n  figure: latency_ms.p96\n  op: '>'\n  value: 1\n")
    with pytest.raises(RuleError, match=r"'latency_ms.p96' is not a figure of scope groups; nearest: latency_ms.p99, latency_ms.p95"):
        load_rules(rules)
