"""Alert rules over the local store: what fires, when, who hears about it, and what is kept."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from agent_otel.alerts.cycle import load_config, run_cycle
from agent_otel.alerts.export import to_prometheus
from agent_otel.alerts.rules import RuleError, load_rules
from agent_otel.alerts.state import AlertStore
from agent_otel.analyzer.sources.local import LocalSource

from spanwriter import MS, T0, Writer




def spans(path, *, tool_ms=50, n=40, errors=0, kind="tool", name="web_search", ago_s=60):
    w = Writer(path)
    start_ms = (time.time_ns() - ago_s * 10**9 - T0) / MS  # Writer counts from its T0
    for i in range(n):
        w.span(kind, name, start_ms + i * 10, tool_ms, error="Timeout" if i < errors else None)


def rules_file(tmp_path, rules, receivers=None, **extra):
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml.safe_dump({"rules": rules, "receivers": receivers or [], **extra}))
    return path


class Receiver:
    """A webhook receiver of the test: records what arrives; can be switched off."""

    def __init__(self):
        self.bodies, self.down = [], False
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if outer.down:
                    self.send_response(503)
                else:
                    outer.bodies.append(body)
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


SLOW = {"name": "SearchSlow", "select": {"kind": "tool", "name": "web_search"}, "figure": "latency_ms.p95", "op": ">", "value": 500,
        "annotations": {"summary": "{{ name }} p95 {{ value }} ms > {{ threshold }}"}}


@pytest.mark.parametrize(
    "rule, message",
    [
        ({"name": "A", "figure": "error_rate", "op": "~", "value": 1}, r"rule 1 \(A\): field 'op'"),
        ({"name": "A", "figure": "error_rate", "value": "high"}, r"rule 1 \(A\): field 'value': expected a number"),
        ({"name": "A", "type": "slo", "objective": 99}, r"rule 1 \(A\): field 'objective'"),
        ({"name": "A", "figure": "x", "value": 1, "severity": "urgent"}, r"rule 1 \(A\): field 'severity'"),
        ({"name": "A", "figure": "x", "value": 1, "for": "soon"}, r"rule 1 \(A\): field 'for'"),
        ({"name": "A", "figure": "x", "value": 1, "colour": "red"}, r"rule 1 \(A\): unknown field\(s\) colour"),
        ({"name": "bad name!", "figure": "x", "value": 1}, r"rule 1: field 'name'"),
    ],
)
def test_bad_rules_are_named_and_nothing_loads(tmp_path, rule, message):
    path = rules_file(tmp_path, [SLOW, rule])
    with pytest.raises(RuleError, match=message.replace("rule 1", "rule 2")):
        load_rules(path)


def test_check_fires_on_a_slow_tool_and_not_on_a_fast_one(tmp_path):
    spans(tmp_path / "slow.db", tool_ms=900)
    spans(tmp_path / "fast.db", tool_ms=50)
    path = rules_file(tmp_path, [SLOW])
    run = lambda db: subprocess.run([sys.executable, "-m", "agent_otel.cli", "alerts", "check", "-r", str(path), "--store", str(db), "--source", "local"],  # noqa: E731
                                    capture_output=True, text=True, timeout=60)
    slow, fast = run(tmp_path / "slow.db"), run(tmp_path / "fast.db")
    assert slow.returncode == 1 and "SearchSlow" in slow.stdout and "web_search p95 900 ms > 500" in slow.stdout
    assert fast.returncode == 0, fast.stdout + fast.stderr


def test_pending_firing_resolved_with_for_and_dedup(tmp_path, receiver):
    db = tmp_path / "s.db"
    spans(db, tool_ms=900)
    config = load_config(rules_file(tmp_path, [{**SLOW, "for": "30s"}], [{"type": "webhook", "url": receiver.url}]))
    store = AlertStore(db)
    source = LocalSource(db)
    t = time.time()
    assert run_cycle(config, source, store, now=t).notified == []  # pending
    assert run_cycle(config, source, store, now=t + 10).notified == []  # still pending
    fired = run_cycle(config, source, store, now=t + 31).notified
    assert [a.state for a in fired] == ["firing"]
    assert run_cycle(config, source, store, now=t + 40).notified == []  # deduplicated: no second notification
    body = receiver.bodies[0]
    assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "webhook"
    assert body["groupLabels"] == {"alertname": "SearchSlow"}
    assert body["alerts"][0]["labels"] == {"alertname": "SearchSlow", "kind": "tool", "name": "web_search", "severity": "warning"}
    assert set(body["alerts"][0]) == {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
    # the data becomes healthy: the alert resolves and the receiver hears it
    empty = tmp_path / "empty.db"
    spans(empty, tool_ms=10)
    resolved = run_cycle(config, LocalSource(empty), store, now=t + 50).notified
    assert [a.state for a in resolved] == ["resolved"]
    assert receiver.bodies[-1]["status"] == "resolved"
    assert [row[2] for row in store.history()] == ["resolved", "firing", "pending"]


def test_critical_inhibits_warning_and_silences_expire(tmp_path, receiver):
    db = tmp_path / "s.db"
    spans(db, tool_ms=900)
    rules = [{**SLOW, "severity": "warning"}, {**SLOW, "value": 700, "severity": "critical"}]
    config = load_config(rules_file(tmp_path, rules, [{"type": "webhook", "url": receiver.url}]))
    store = AlertStore(db)
    result = run_cycle(config, LocalSource(db), store, ignore_for=True)
    assert [a.labels["severity"] for a in result.notified] == ["critical"] and result.inhibited == 1

    store2 = AlertStore(tmp_path / "other.db")
    sid = store2.silence({"alertname": "SearchSlow"}, 60, "deploy in progress", who="alice")
    silenced = run_cycle(config, LocalSource(db), store2, ignore_for=True)
    assert silenced.notified == [] and silenced.silenced == 2
    store2.expire_silence(sid, who="bob")
    actions = [(who, action) for _, who, action, _ in store2.audit_log()]
    assert actions == [("bob", "silence.expire"), ("alice", "silence.create")]


def test_receiver_down_keeps_notifications_until_delivered(tmp_path, receiver):
    db = tmp_path / "s.db"
    spans(db, tool_ms=900)
    config = load_config(rules_file(tmp_path, [SLOW], [{"type": "webhook", "url": receiver.url}]))
    store = AlertStore(db)
    receiver.down = True
    first = run_cycle(config, LocalSource(db), store, ignore_for=True)
    assert first.errors and first.undelivered == 1 and receiver.bodies == []
    receiver.down = False
    second = run_cycle(config, LocalSource(db), store, ignore_for=True)
    assert second.undelivered == 0
    assert [b["alerts"][0]["labels"]["alertname"] for b in receiver.bodies] == ["SearchSlow"]


def test_slo_burn_rate_pages_on_a_fast_burn(tmp_path):
    db = tmp_path / "s.db"
    spans(db, kind="agent", name="support-bot", n=100, errors=30, ago_s=120)  # 30% errors vs 1% budget: 30x burn
    config = load_config(rules_file(tmp_path, [{"name": "BotSLO", "type": "slo", "select": {"kind": "agent", "name": "support-bot"}, "objective": 0.99}]))
    result = run_cycle(config, LocalSource(db), AlertStore(db), ignore_for=True)
    (alert,) = result.notified
    assert alert.labels["severity"] == "critical" and alert.value == pytest.approx(30.0)
    assert "30.0x over 1h" in alert.annotations["summary"]


def test_regression_rule_uses_the_baseline_test(tmp_path):
    db = tmp_path / "s.db"
    import numpy as np

    rng = np.random.default_rng(3)
    w = Writer(db)
    base_ms = (time.time_ns() - 3 * 3600 * 10**9 - T0) / MS
    now_ms = (time.time_ns() - 60 * 10**9 - T0) / MS
    for i in range(200):
        w.span("tool", "search", base_ms + i * 10, float(rng.normal(100, 10)))
        w.span("tool", "search", now_ms + i * 1, float(rng.normal(160, 15)))
    config = load_config(rules_file(tmp_path, [{"name": "Regressed", "type": "regression", "select": {"kind": "tool"}, "baseline": "6h..1h"}]))
    (alert,) = run_cycle(config, LocalSource(db), AlertStore(db), ignore_for=True).notified
    assert alert.labels["name"] == "search" and alert.value > 40


def test_rule_file_changes_are_audited(tmp_path):
    db = tmp_path / "s.db"
    spans(db)
    path = rules_file(tmp_path, [SLOW])
    cmd = [sys.executable, "-m", "agent_otel.cli", "alerts", "check", "-r", str(path), "--store", str(db), "--source", "local"]
    subprocess.run(cmd, capture_output=True, timeout=60)
    subprocess.run(cmd, capture_output=True, timeout=60)
    path.write_text(path.read_text().replace("500", "600"))
    subprocess.run(cmd, capture_output=True, timeout=60)
    changes = [json.loads(d) for _, _, action, d in AlertStore(db).audit_log() if action == "rules.change"]
    assert len(changes) == 2 and changes[0]["rules"] == ["SearchSlow"]


def test_export_prometheus_rules():
    config = load_config("examples/alerts.yaml")
    doc = yaml.safe_load(to_prometheus(config.rules))
    rules = {(r["alert"], r["labels"]["severity"]): r for r in doc["groups"][0]["rules"]}
    slow = rules[("WebSearchSlow", "warning")]
    assert 'agent_otel_name="web_search"' in slow["expr"] and slow["expr"].endswith("> 800") and slow["for"] == "120s"
    assert slow["annotations"]["summary"] == "tool {{ $labels.agent_otel_name }} p95 is {{ $value }} ms (threshold 800 ms)"
    slo = [r for r in doc["groups"][0]["rules"] if r["alert"] == "SupportBotAvailability"]
    assert [r["labels"]["slo_window"] for r in slo] == ["1h", "6h", "3d"]
    assert "> 0.144" in slo[0]["expr"] and "[5m]" in slo[0]["expr"]


def test_cli_bad_rule_file_is_one_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent("""
        rules:
          - name: X
            figure: error_rate
            value: [1]
    """))
    proc = subprocess.run([sys.executable, "-m", "agent_otel.cli", "alerts", "check", "-r", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "rule 1 (X): field 'value': expected a number" in proc.stderr and "Traceback" not in proc.stderr


def test_chat_receiver_gets_one_text_line_per_alert(tmp_path, receiver):
    db = tmp_path / "s.db"
    spans(db, tool_ms=900)
    config = load_config(rules_file(tmp_path, [SLOW], [{"type": "chat", "url": receiver.url}]))
    run_cycle(config, LocalSource(db), AlertStore(db), ignore_for=True)
    (body,) = receiver.bodies
    assert body == {"text": "[FIRING] SearchSlow (warning) tool web_search: web_search p95 900 ms > 500 value=900"}
