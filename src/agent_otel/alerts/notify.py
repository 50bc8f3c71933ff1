"""Receivers: an Alertmanager-shaped webhook, a chat webhook, stdout, and a real Alertmanager's API.

A delivery is retried with backoff; one that still fails goes to the outbox table and is retried
at the next evaluation, so no notification is lost to a receiver that is down for a while.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx

from agent_otel.alerts.state import Alert, AlertStore
from agent_otel.errors import ReceiverError  # noqa: F401  (re-exported)

RECEIVER_TYPES = ("webhook", "chat", "stdout", "alertmanager")
BACKOFF_S = (0.2, 0.5, 1.0)


def _iso(ts: float | None) -> str:
    if not ts:
        return "0001-01-01T00:00:00Z"
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _am_alert(a: Alert, generator_url: str) -> dict[str, Any]:
    return {
        "status": "resolved" if a.state == "resolved" else "firing",
        "labels": a.labels,
        "annotations": a.annotations,
        "startsAt": _iso(a.fired_at or a.active_since),
        "endsAt": _iso(a.ended_at),
        "generatorURL": generator_url,
        "fingerprint": a.fingerprint,
    }


def webhook_payload(alerts: list[Alert], receiver: str, group_labels: dict[str, str], generator_url: str = "agent-otel://alerts") -> dict[str, Any]:
    """The Alertmanager webhook payload, version 4."""
    items = [_am_alert(a, generator_url) for a in alerts]
    common_labels = {k: v for k, v in alerts[0].labels.items() if all(a.labels.get(k) == v for a in alerts)}
    common_ann = {k: v for k, v in alerts[0].annotations.items() if all(a.annotations.get(k) == v for a in alerts)}
    return {
        "version": "4",
        "groupKey": "{}:" + json.dumps(group_labels, sort_keys=True),
        "truncatedAlerts": 0,
        "status": "firing" if any(i["status"] == "firing" for i in items) else "resolved",
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": common_labels,
        "commonAnnotations": common_ann,
        "externalURL": generator_url,
        "alerts": items,
    }


@dataclass
class Receiver:
    name: str
    type: str
    url: str | None = None
    headers: dict[str, str] | None = None

    def body(self, alerts: list[Alert], group_labels: dict[str, str]) -> Any:
        if self.type == "alertmanager":  # POST /api/v2/alerts: a firing alert ends unless pushed again
            return [
                {"labels": a.labels, "annotations": a.annotations, "startsAt": _iso(a.fired_at or a.active_since),
                 "endsAt": _iso(a.ended_at if a.state == "resolved" else time.time() + 3600), "generatorURL": "agent-otel://alerts"}
                for a in alerts
            ]
        if self.type == "chat":
            lines = [f"[{a.state.upper()}] {a.labels.get('alertname')} ({a.labels.get('severity')}) "
                     f"{a.labels.get('kind', '')} {a.labels.get('name', '')}: {a.annotations.get('summary', '')} value={a.value:.4g}".replace("  ", " ")
                     for a in alerts]
            return {"text": "\n".join(lines)}
        return webhook_payload(alerts, self.name, group_labels)

    def send(self, body: Any) -> None:
        if self.type == "stdout":
            sys.stdout.write(json.dumps(body) + "\n")
            sys.stdout.flush()
            return
        url = self.url.rstrip("/") + "/api/v2/alerts" if self.type == "alertmanager" else self.url
        resp = httpx.post(url, json=body, headers=self.headers or {}, timeout=5)
        if resp.status_code >= 300:
            raise httpx.HTTPStatusError(f"{self.name}: HTTP {resp.status_code}: {resp.text[:200]}", request=resp.request, response=resp)


def parse_receivers(raw: Any, where: str) -> list[Receiver]:
    if raw is None:
        return [Receiver("stdout", "stdout")]
    if not isinstance(raw, list):
        raise ReceiverError(f"{where}: 'receivers' must be a list")
    out = []
    for i, r in enumerate(raw):
        w = f"{where} receiver {i + 1}"
        if not isinstance(r, dict) or r.get("type") not in RECEIVER_TYPES:
            raise ReceiverError(f"{w}: field 'type': expected one of {', '.join(RECEIVER_TYPES)}")
        if r["type"] != "stdout" and not str(r.get("url", "")).startswith(("http://", "https://")):
            raise ReceiverError(f"{w} ({r['type']}): field 'url': expected an http(s) URL, got {r.get('url')!r}")
        out.append(Receiver(str(r.get("name", r["type"])), r["type"], r.get("url"), r.get("headers")))
    return out


def _deliver(receiver: Receiver, body: Any) -> str | None:
    """None when delivered, else the last error (after the backoff retries)."""
    error = None
    for delay in (0.0, *BACKOFF_S):
        time.sleep(delay)
        try:
            receiver.send(body)
            return None
        except (httpx.HTTPError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
    return error


def dispatch(store: AlertStore, receivers: list[Receiver], alerts: list[Alert], group_by: list[str]) -> list[str]:
    """Group the alerts, send each group to every receiver, park failures in the outbox; returns errors."""
    errors = []
    groups: dict[tuple[tuple[str, str], ...], list[Alert]] = {}
    for a in alerts:
        key = tuple((k, a.labels.get(k, "")) for k in group_by)
        groups.setdefault(key, []).append(a)
    for key, members in groups.items():
        for receiver in receivers:
            body = receiver.body(members, dict(key))
            error = _deliver(receiver, body)
            if error:
                store.park(receiver.name, body, len(BACKOFF_S) + 1, error)
                errors.append(f"{receiver.name}: {error}")
    return errors


def retry_outbox(store: AlertStore, receivers: list[Receiver]) -> int:
    """Send what earlier cycles could not; returns how many are still undelivered."""
    by_name = {r.name: r for r in receivers}
    left = 0
    for row_id, name, payload, attempts in store.parked():
        receiver = by_name.get(name)
        if receiver is None:
            left += 1
            continue
        error = _deliver(receiver, payload)
        if error is None:
            store.delivered(row_id)
        else:
            store.failed_again(row_id, attempts + len(BACKOFF_S) + 1, error)
            left += 1
    return left
