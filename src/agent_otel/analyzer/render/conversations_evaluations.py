"""The report's conversations and evaluations, for the terminal and the HTML report (the renderers call these)."""

from __future__ import annotations

import html
from typing import Any

MAX_ROWS = 15


def _score(stats: dict[str, Any]) -> str:
    bits = [f"mean {stats['mean']:.3g} (min {stats['min']:.3g}, max {stats['max']:.3g})"] if "mean" in stats else []
    if stats.get("labels"):
        bits.append(", ".join(f"{k}: {v}" for k, v in sorted(stats["labels"].items())))
    return f"{stats['count']} · " + " · ".join(bits)


def evaluation_rows(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(scope, evaluation, figures) rows: all, then per agent and per model."""
    ev = data.get("evaluations") or {}
    rows = [("all", n, _score(s)) for n, s in (ev.get("totals") or {}).items()]
    for key, label in (("agents", "agent"), ("models", "model")):
        for who, names in (ev.get(key) or {}).items():
            rows.extend((f"{label} {who}", n, _score(s)) for n, s in names.items())
    for name, cmp in (ev.get("baseline") or {}).items():
        rows.append(("vs baseline", name, f"{cmp['verdict']}: mean {cmp['mean']:.3g} vs {cmp['baseline_mean']:.3g} ({cmp['change_pct']:+.1f}%)"))
    return rows


def conversation_rows(data: dict[str, Any]) -> list[tuple[str, ...]]:
    out = []
    for c in (data.get("conversations") or [])[:MAX_ROWS]:
        cost = f"${c['cost_usd']:.4f}" if c["cost_usd"] else "-"
        out.append((c["conversation_id"], str(c["turns"]), f"{c['latency_ms']['mean']:,.1f}", f"{c['latency_ms']['max']:,.1f}",
                    f"{c['input_tokens']:,}/{c['output_tokens']:,}", cost, str(c["errors"])))
    return out


CONV_HEAD = ("conversation", "turns", "mean turn ms", "max turn ms", "tokens in/out", "cost", "errors")


def terminal(data: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    convs = data.get("conversations") or []
    if convs:
        t = Table(title="Conversations (gen_ai.conversation.id; a turn is a trace)")
        for h in CONV_HEAD:
            t.add_column(h, justify="left" if h == "conversation" else "right")
        for row in conversation_rows(data):
            t.add_row(*row)
        console.print(t)
        if len(convs) == 1:  # one conversation (--conversation): its turns
            tt = Table(title=f"Turns of {convs[0]['conversation_id']}")
            for h in ("trace", "latency ms", "spans", "tokens in/out", "errors"):
                tt.add_column(h, justify="left" if h == "trace" else "right")
            for turn in convs[0]["turn_detail"]:
                tt.add_row(turn["trace_id"], f"{turn['latency_ms']:,.1f}", str(turn["spans"]), f"{turn['input_tokens']:,}/{turn['output_tokens']:,}", str(turn["errors"]))
            console.print(tt)
    rows = evaluation_rows(data)
    if rows:
        t = Table(title="Evaluations (gen_ai.evaluation.result)")
        for h in ("scope", "evaluation", "count · score · labels"):
            t.add_column(h)
        for row in rows:
            t.add_row(*row)
        console.print(t)


def html_sections(data: dict[str, Any], tid: Any) -> str:
    """HTML of both sections; `tid(trace_id, data)` makes a trace id a link that opens its waterfall."""
    e = html.escape
    out = []
    convs = data.get("conversations") or []
    if convs:
        out.append("<h2>Conversations</h2><table><tr>" + "".join(f"<th{' class=l' if h == 'conversation' else ''}>{e(h)}</th>" for h in CONV_HEAD) + "</tr>")
        out.extend("<tr>" + "".join(f"<td{' class=l' if i == 0 else ''}>{e(v)}</td>" for i, v in enumerate(row)) + "</tr>" for row in conversation_rows(data))
        out.append("</table>")
        if len(convs) == 1:
            out.append(f"<h2>Turns of {e(convs[0]['conversation_id'])}</h2><table><tr><th class=l>trace</th><th>latency ms</th><th>spans</th><th>tokens in/out</th><th>errors</th></tr>")
            out.extend(f"<tr><td class=l>{tid(t['trace_id'], data)}</td><td>{t['latency_ms']:,.1f}</td><td>{t['spans']}</td>"
                       f"<td>{t['input_tokens']:,}/{t['output_tokens']:,}</td><td>{t['errors']}</td></tr>" for t in convs[0]["turn_detail"])
            out.append("</table>")
    rows = evaluation_rows(data)
    if rows:
        out.append("<h2>Evaluations</h2><table><tr><th class=l>scope</th><th class=l>evaluation</th><th class=l>count · score · labels</th></tr>")
        out.extend(f"<tr><td class=l>{e(a)}</td><td class=l>{e(b)}</td><td class=l>{e(c)}</td></tr>" for a, b, c in rows)
        out.append("</table>")
    return "".join(out)
