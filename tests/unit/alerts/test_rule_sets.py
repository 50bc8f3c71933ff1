"""A typo in a rule is refused at load; alert state belongs to one rule set and no other."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from agent_otel.alerts.cycle import load_config, run_cycle
from agent_otel.alerts.rules import RuleError, load_rules
from agent_otel.alerts.state import AlertStore
from agent_otel.analyzer.sources.local import LocalSource
from test_alerts import SLOW, Receiver, spans  # noqa: F401  (same directory)


def write(path, rules, receivers=()):
    path.write_text(yaml.safe_dump({"rules": rules, "receivers": list(receivers)}))
    return path


@pytest.mark.parametrize(
    "rule, field, bad, nearest",
    [
        ({"name": "Slow", "select": {"kind": "tool"}, "figure": "latncy_ms.p95", "value": 1}, "figure", "'latncy_ms.p95'", "nearest: latency_ms.p95"),
        ({"name": "Errs", "select": {"kind": "tool"}, "figure": "error_rat", "value": 0.1}, "figure", "'error_rat'", "nearest: error_rate"),
        ({"name": "Cost", "scope": "totals", "figure": "cost_usd_per_hr", "value": 1}, "figure", "'cost_usd_per_hr'", "nearest: cost_usd_per_hour"),
        ({"name": "Cpu", "scope": "resources", "figure": "cpu_utilisation", "value": 0.9}, "figure", "'cpu_utilisation'", "nearest: cpu_utilization"),
        ({"name": "Lm", "select": {"kind": "lm"}, "figure": "error_rate", "value": 0.1}, "select", "kind 'lm'", "nearest: llm"),
        ({"name": "Key", "select": {"knd": "tool"}, "figure": "error_rate", "value": 0.1}, "select", "unknown key 'knd'", "nearest: kind"),
        ({"name": "Svc", "scope": "services", "select": {"servce": "bot"}, "figure": "error_rate", "value": 0.1}, "select", "unknown key 'servce'", "nearest: service"),
        ({"name": "Slo", "type": "slo", "select": {"kind": "tol"}, "objective": 0.99}, "select", "kind 'tol'", "nearest: tool"),
        ({"name": "Reg", "type": "regression", "select": {"kind": "agnt"}}, "select", "kind 'agnt'", "nearest: agent"),
        ({"name": "Tot", "scope": "totals", "select": {"kind": "tool"}, "figure": "error_rate", "value": 0.1}, "select", "nothing to select", ""),
    ],
)
def test_a_typo_in_each_field_is_refused_with_file_rule_field_value_and_nearest(tmp_path, rule, field, bad, nearest):
    path = write(tmp_path / "rules.yaml", [SLOW, rule])
    with pytest.raises(RuleError) as err:
        load_rules(path)
    message = str(err.value)
    assert message.startswith(f"{path} rule 2 ({rule['name']}): field '{field}': ")
    assert bad in message and nearest in message


def test_every_figure_a_rule_names_is_one_a_real_report_gives(tmp_path):
    """The shipped examples load, and the CLI refuses a typo with exit 2 instead of passing the gate."""
    assert load_rules("examples/alerts.yaml")
    bad = write(tmp_path / "typo.yaml", [{"name": "Slow", "select": {"kind": "tool"}, "figure": "latncy_ms.p95", "value": 1}])
    spans(tmp_path / "s.db", tool_ms=900)
    proc = subprocess.run([sys.executable, "-m", "agent_otel.cli", "alerts", "check", "-r", str(bad), "--store", str(tmp_path / "s.db"), "--source", "local"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "latency_ms.p95" in proc.stderr, proc.stderr


def test_two_rule_files_do_not_touch_each_others_state(tmp_path):
    receiver = Receiver()
    try:
        db = tmp_path / "s.db"
        spans(db, tool_ms=900)
        hook = [{"type": "webhook", "url": receiver.url}]
        a = load_config(write(tmp_path / "a.yaml", [SLOW], hook))
        b = load_config(write(tmp_path / "b.yaml", [{**SLOW, "name": "OtherRule", "value": 5000}], hook))
        store_a = AlertStore(db, str(tmp_path / "a.yaml"))
        store_b = AlertStore(db, str(tmp_path / "b.yaml"))

        fired = run_cycle(a, LocalSource(db), store_a, ignore_for=True).notified
        assert [(x.labels["alertname"], x.state) for x in fired] == [("SearchSlow", "firing")]
        # b.yaml never mentions SearchSlow: checking it sends nothing and leaves a.yaml's alert firing
        assert run_cycle(b, LocalSource(db), store_b, ignore_for=True).notified == []
        assert [x.labels["alertname"] for x in store_a.firing()] == ["SearchSlow"] and store_b.firing() == []
        assert [body["status"] for body in receiver.bodies] == ["firing"]

        # the same rule in both files: two alerts, one per set; each resolves only in its own check
        b_same = load_config(write(tmp_path / "b.yaml", [SLOW], hook))
        assert [x.state for x in run_cycle(b_same, LocalSource(db), store_b, ignore_for=True).notified] == ["firing"]
        healthy = tmp_path / "healthy.db"
        spans(healthy, tool_ms=10)
        assert [x.state for x in run_cycle(b_same, LocalSource(healthy), store_b, ignore_for=True).notified] == ["resolved"]
        assert [x.labels["alertname"] for x in store_a.firing()] == ["SearchSlow"]  # untouched by b's resolution

        # a rule dropped from the set is not "resolved" by a check that no longer evaluates it
        a_without = load_config(write(tmp_path / "a.yaml", [{**SLOW, "name": "Renamed", "value": 5000}], hook))
        assert run_cycle(a_without, LocalSource(healthy), store_a, ignore_for=True).notified == []
        assert [x.labels["alertname"] for x in store_a.firing()] == ["SearchSlow"]
    finally:
        receiver.close()


def test_cli_rule_set_name_and_file_default_keep_states_apart(tmp_path):
    db = tmp_path / "s.db"
    spans(db, tool_ms=900)
    rules = write(tmp_path / "a.yaml", [SLOW])

    def check(*extra):
        return subprocess.run([sys.executable, "-m", "agent_otel.cli", "alerts", "check", "-r", str(rules), "--store", str(db), "--source", "local", *extra],
                              capture_output=True, text=True, timeout=60)

    assert check().returncode == 1 and check("--rule-set", "nightly").returncode == 1
    assert {s.rule_set for s in (AlertStore(db, str(rules.resolve())), AlertStore(db, "nightly")) if s.firing()} == {str(rules.resolve()), "nightly"}
    assert AlertStore(db, "other").firing() == []
