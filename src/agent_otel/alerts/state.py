"""Alert states across evaluations — pending, firing, resolved — with silences, inhibition, history
and an audit log, kept in the local store's SQLite file (tables `alerts_*`) so a restarted
`alerts watch` carries on where it stopped.

States belong to a rule set (the rule file's path, or a name the user gives): checking one set
never touches the alerts of another, and an alert is resolved only by a check of its own set
that still has its rule. Silences, history and the audit log are shared.
"""

from __future__ import annotations

import getpass
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_otel.alerts.evaluate import Instance
from agent_otel.localstore.store import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts_state (rule_set TEXT NOT NULL DEFAULT '', fingerprint TEXT, state TEXT, labels TEXT, annotations TEXT,
    value REAL, active_since REAL, fired_at REAL, last_notified REAL, PRIMARY KEY (rule_set, fingerprint));
CREATE TABLE IF NOT EXISTS alerts_history (ts REAL, fingerprint TEXT, alertname TEXT, state TEXT, labels TEXT, value REAL);
CREATE TABLE IF NOT EXISTS alerts_silences (id INTEGER PRIMARY KEY AUTOINCREMENT, matchers TEXT, starts_at REAL, ends_at REAL,
    created_by TEXT, comment TEXT);
CREATE TABLE IF NOT EXISTS alerts_audit (ts REAL, who TEXT, action TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS alerts_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, receiver TEXT, payload TEXT, attempts INTEGER,
    created REAL, last_error TEXT);
"""


@dataclass
class Alert:
    fingerprint: str
    state: str  # pending | firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float
    active_since: float
    fired_at: float | None = None
    last_notified: float | None = None
    ended_at: float | None = None


_STATE_COLUMNS = "fingerprint, state, labels, annotations, value, active_since, fired_at, last_notified"


class AlertStore:
    def __init__(self, path: str | Path | None = None, rule_set: str = "") -> None:
        self.conn = connect(path)
        self.rule_set = rule_set
        columns = [r[1] for r in self.conn.execute("PRAGMA table_info(alerts_state)")]
        if columns and "rule_set" not in columns:  # a store from before rule sets: its states keep the set ''
            self.conn.execute("ALTER TABLE alerts_state RENAME TO alerts_state_unscoped")
        self.conn.executescript(SCHEMA)
        if columns and "rule_set" not in columns:
            self.conn.executescript(
                f"INSERT INTO alerts_state (rule_set, {_STATE_COLUMNS}) SELECT '', {_STATE_COLUMNS} FROM alerts_state_unscoped;"
                " DROP TABLE alerts_state_unscoped;"
            )

    # -- audit ----------------------------------------------------------------------------
    def audit(self, action: str, detail: dict[str, Any], who: str | None = None) -> None:
        self.conn.execute("INSERT INTO alerts_audit VALUES (?, ?, ?, ?)", (time.time(), who or _user(), action, json.dumps(detail, sort_keys=True)))

    def note_rules(self, path: str, text: str, names: list[str], who: str | None = None) -> bool:
        """Audit a rule file whose content changed since it was last used; True when it did."""
        import hashlib

        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        last = self.conn.execute(
            "SELECT detail FROM alerts_audit WHERE action = 'rules.change' AND json_extract(detail, '$.path') = ? ORDER BY ts DESC LIMIT 1", (path,)
        ).fetchone()
        if last and json.loads(last[0]).get("sha256") == digest:
            return False
        self.audit("rules.change", {"path": path, "sha256": digest, "rules": names}, who)
        return True

    def audit_log(self, limit: int = 100) -> list[tuple[float, str, str, str]]:
        return self.conn.execute("SELECT ts, who, action, detail FROM alerts_audit ORDER BY ts DESC LIMIT ?", (limit,)).fetchall()

    # -- silences -------------------------------------------------------------------------
    def silence(self, matchers: dict[str, str], duration_s: float, comment: str = "", who: str | None = None) -> int:
        if not matchers:
            raise ValueError("a silence needs at least one matcher (label=value)")
        now = time.time()
        cur = self.conn.execute(
            "INSERT INTO alerts_silences (matchers, starts_at, ends_at, created_by, comment) VALUES (?, ?, ?, ?, ?)",
            (json.dumps(matchers, sort_keys=True), now, now + duration_s, who or _user(), comment),
        )
        self.audit("silence.create", {"id": cur.lastrowid, "matchers": matchers, "ends_at": now + duration_s, "comment": comment}, who)
        return int(cur.lastrowid)

    def expire_silence(self, silence_id: int, who: str | None = None) -> None:
        self.conn.execute("UPDATE alerts_silences SET ends_at = ? WHERE id = ?", (time.time(), silence_id))
        self.audit("silence.expire", {"id": silence_id}, who)

    def active_silences(self, now: float | None = None) -> list[tuple[int, dict[str, str], float, str]]:
        now = now or time.time()
        rows = self.conn.execute("SELECT id, matchers, ends_at, created_by FROM alerts_silences WHERE starts_at <= ? AND ends_at > ?", (now, now)).fetchall()
        return [(i, json.loads(m), e, who) for i, m, e, who in rows]

    def silenced(self, labels: dict[str, str], now: float | None = None) -> bool:
        return any(all(labels.get(k) == v for k, v in m.items()) for _, m, _, _ in self.active_silences(now))

    # -- states ---------------------------------------------------------------------------
    def _load(self) -> dict[str, Alert]:
        rows = self.conn.execute(f"SELECT {_STATE_COLUMNS} FROM alerts_state WHERE rule_set = ?", (self.rule_set,)).fetchall()
        return {r[0]: Alert(r[0], r[1], json.loads(r[2]), json.loads(r[3]), r[4], r[5], r[6], r[7]) for r in rows}

    def _save(self, alert: Alert) -> None:
        self.conn.execute(
            f"INSERT OR REPLACE INTO alerts_state (rule_set, {_STATE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.rule_set, alert.fingerprint, alert.state, json.dumps(alert.labels), json.dumps(alert.annotations), alert.value, alert.active_since, alert.fired_at, alert.last_notified),
        )

    def _history(self, alert: Alert, state: str, now: float) -> None:
        self.conn.execute("INSERT INTO alerts_history VALUES (?, ?, ?, ?, ?, ?)", (now, alert.fingerprint, alert.labels.get("alertname"), state, json.dumps(alert.labels), alert.value))

    def history(self, limit: int = 100) -> list[tuple[float, str, str, float]]:
        return self.conn.execute("SELECT ts, alertname, state, value FROM alerts_history ORDER BY ts DESC LIMIT ?", (limit,)).fetchall()

    def update(self, instances: list[Instance], *, now: float | None = None, repeat_interval_s: float = 4 * 3600, ignore_for: bool = False,
               rule_names: set[str] | None = None) -> list[Alert]:
        """Apply one evaluation of this rule set; returns the alerts to notify now (newly firing, repeats, resolved).

        rule_names: the rules that were evaluated; an alert of any other rule is left as it is
        (None: every rule of the set was evaluated)."""
        now = now or time.time()
        known = self._load()
        seen: set[str] = set()
        notify: list[Alert] = []
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for inst in instances:
                fp = inst.fingerprint
                seen.add(fp)
                alert = known.get(fp) or Alert(fp, "pending", inst.labels, inst.annotations, inst.value, now)
                alert.value, alert.annotations = inst.value, inst.annotations
                if alert.state == "pending" and (ignore_for or now - alert.active_since >= inst.rule.for_s):
                    alert.state, alert.fired_at = "firing", now
                    self._history(alert, "firing", now)
                    notify.append(alert)
                elif alert.state == "pending" and fp not in known:
                    self._history(alert, "pending", now)
                elif alert.state == "firing" and alert.last_notified and now - alert.last_notified >= repeat_interval_s:
                    notify.append(alert)
                self._save(alert)
            for fp, alert in known.items():
                if fp in seen or (rule_names is not None and alert.labels.get("alertname") not in rule_names):
                    continue
                self.conn.execute("DELETE FROM alerts_state WHERE rule_set = ? AND fingerprint = ?", (self.rule_set, fp))
                if alert.state == "firing":
                    alert.state, alert.ended_at = "resolved", now
                    self._history(alert, "resolved", now)
                    notify.append(alert)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return notify

    def mark_notified(self, alerts: list[Alert], now: float | None = None) -> None:
        now = now or time.time()
        for a in alerts:
            if a.state == "firing":
                self.conn.execute("UPDATE alerts_state SET last_notified = ? WHERE rule_set = ? AND fingerprint = ?", (now, self.rule_set, a.fingerprint))

    def firing(self) -> list[Alert]:
        return [a for a in self._load().values() if a.state == "firing"]

    # -- outbox: notifications no receiver took yet ----------------------------------------
    def park(self, receiver: str, payload: Any, attempts: int, error: str) -> None:
        self.conn.execute("INSERT INTO alerts_outbox (receiver, payload, attempts, created, last_error) VALUES (?, ?, ?, ?, ?)",
                          (receiver, json.dumps(payload), attempts, time.time(), error))

    def parked(self) -> list[tuple[int, str, Any, int]]:
        """(id, receiver, payload, attempts so far) of every parked notification, oldest first."""
        rows = self.conn.execute("SELECT id, receiver, payload, attempts FROM alerts_outbox ORDER BY id").fetchall()
        return [(i, r, json.loads(p), n) for i, r, p, n in rows]

    def delivered(self, parked_id: int) -> None:
        self.conn.execute("DELETE FROM alerts_outbox WHERE id = ?", (parked_id,))

    def failed_again(self, parked_id: int, attempts: int, error: str) -> None:
        self.conn.execute("UPDATE alerts_outbox SET attempts = ?, last_error = ? WHERE id = ?", (attempts, error, parked_id))


def inhibited(alert: Alert, firing: list[Alert]) -> bool:
    """A critical alert silences the warning/info alert of the same rule and target."""
    if alert.labels.get("severity") == "critical":
        return False
    keys = ("alertname", "kind", "name", "service")
    return any(
        other.labels.get("severity") == "critical" and all(other.labels.get(k) == alert.labels.get(k) for k in keys)
        for other in firing
    )


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return "unknown"
