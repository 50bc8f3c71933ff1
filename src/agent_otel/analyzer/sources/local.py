"""The local store as a report source: plain SQL over the SQLite file the SDK wrote."""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

from agent_otel import semconv
from agent_otel.analyzer.sources.base import ResourceFigures, SourceError, SpanFrame, TraceSpan
from agent_otel.analyzer.sources.detail import LogLine, SpanDetail, SpanEvent, TraceDetail
from agent_otel.analyzer.sources.severity import most_severe_per_trace
from agent_otel.localstore.store import connect, default_path

# Metric names of the resource metrics (OTel process/hardware conventions) the report shows.
CPU_METRIC = semconv.METRIC_PROCESS_CPU_UTILIZATION
MEMORY_METRIC = semconv.METRIC_PROCESS_MEMORY_USAGE
GPU_UTIL_METRIC = semconv.METRIC_HW_GPU_UTILIZATION
GPU_MEMORY_METRIC = semconv.METRIC_HW_GPU_MEMORY_USAGE


def _loads(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {"_unreadable": text}
    return value if isinstance(value, dict) else {"value": value}


class LocalSource:
    name = "local"

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = path or default_path()
        try:
            self._conn = connect(self.path, readonly=True)
            self._conn.execute("SELECT 1 FROM spans LIMIT 1")
        except FileNotFoundError as exc:  # StoreNotFoundError, typed, passes through as it is
            raise SourceError(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            raise SourceError(f"local store {self.path} is not readable: {exc}") from None

    def services(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT DISTINCT service FROM spans WHERE service IS NOT NULL ORDER BY 1")]

    def spans(self, start_ns: int, end_ns: int, service: str | None) -> SpanFrame:
        sql = (
            "SELECT kind, target, service, start_ns, duration_ms, error, error_type, model, "
            "input_tokens, output_tokens, trace_id, parent_id, span_id, "
            "json_extract(attributes, '$.\"gen_ai.usage.cache_read.input_tokens\"'), "
            "coalesce(json_extract(attributes, '$.\"gen_ai.usage.cache_write.input_tokens\"'), "
            "json_extract(attributes, '$.\"gen_ai.usage.cache_creation.input_tokens\"')), "
            "json_extract(attributes, '$.\"gen_ai.usage.reasoning.output_tokens\"') FROM spans WHERE start_ns >= ? AND start_ns < ?"
        )
        args: list[object] = [start_ns, end_ns]
        if service:
            sql += " AND service = ?"
            args.append(service)
        return SpanFrame.from_rows(self._conn.execute(sql, args).fetchall())

    def trace(self, trace_id: str) -> list[TraceSpan]:
        rows = self._conn.execute(
            "SELECT span_id, parent_id, name, kind, target, start_ns, end_ns, error FROM spans WHERE trace_id = ?",
            (trace_id,),
        ).fetchall()
        return [TraceSpan(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7])) for r in rows]

    def traces(self, trace_ids: list[str]) -> dict[str, list[TraceSpan]]:
        """The spans of several traces in one indexed query (the report's critical-path sample)."""
        out: dict[str, list[TraceSpan]] = {}
        ids = list(dict.fromkeys(trace_ids))
        for lo in range(0, len(ids), 500):  # within SQLite's bound-parameter limit
            part = ids[lo : lo + 500]
            rows = self._conn.execute(
                "SELECT trace_id, span_id, parent_id, name, kind, target, start_ns, end_ns, error FROM spans "
                f"WHERE trace_id IN ({','.join('?' * len(part))})", part).fetchall()
            for r in rows:
                out.setdefault(r[0], []).append(TraceSpan(r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8])))
        return out

    def trace_detail(self, trace_id: str) -> TraceDetail:
        """Every span of the trace with attributes and events, and its log lines."""
        rows = self._conn.execute(
            "SELECT span_id, parent_id, name, service, kind, target, start_ns, end_ns, error, error_type, model, "
            "input_tokens, output_tokens, attributes FROM spans WHERE trace_id = ? ORDER BY start_ns",
            (trace_id,),
        ).fetchall()
        events: dict[str, list[SpanEvent]] = {}
        try:  # a store written before span events were kept has no such table
            for span_id, ts, name, attrs in self._conn.execute(
                "SELECT span_id, ts_ns, name, attributes FROM span_events WHERE trace_id = ? ORDER BY ts_ns", (trace_id,)
            ):
                events.setdefault(span_id, []).append(SpanEvent(ts, name, _loads(attrs)))
        except sqlite3.OperationalError:
            pass
        spans = [
            SpanDetail(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8]), r[9], r[10], r[11], r[12], _loads(r[13]), events.get(r[0], []))
            for r in rows
        ]
        logs = [
            LogLine(ts, sev, body, span_id, svc)
            for ts, sev, body, span_id, svc in self._conn.execute(
                "SELECT ts_ns, severity, body, span_id, service FROM logs WHERE trace_id = ? ORDER BY ts_ns", (trace_id,)
            )
        ]
        return TraceDetail(trace_id, spans, logs)

    def summarised_spans(self, start_ns: int, end_ns: int) -> int | None:
        """Spans of the window the per-minute summaries count; None for a store without summaries."""
        from agent_otel.analyzer.sources import summaries

        return summaries.summarised_spans(self._conn, start_ns, end_ns)

    def summaries(self, start_ns: int, end_ns: int, service: str | None, rng: Any) -> Any:
        """The window's summaries merged (analyzer.sources.summaries.WindowSummary), None when empty."""
        from agent_otel.analyzer.sources import summaries

        return summaries.load(self._conn, start_ns, end_ns, service, rng)

    def conversation_rows(self, key: str, start_ns: int, end_ns: int, service: str | None, conversation: str | None = None,
                          recent: int | None = None, max_conversations: int = 50) -> list[tuple]:
        """(value of span attribute `key`, trace_id, start_ns, end_ns, error, model, input_tokens, output_tokens)
        of the window's spans that carry `key` (the conversation id: analyzer/conversations.py); only the value `conversation` when given.
        recent (the summary report of a big window, which reads no raw window): the `max_conversations`
        latest conversations of the window from the store's conversation_traces table, each read whole
        through the trace index; `recent` is the stack source's knob and means nothing more here."""
        sql = (f"SELECT json_extract(attributes, '$.\"{key}\"'), trace_id, start_ns, end_ns, error, model, input_tokens, output_tokens "
               "FROM spans WHERE start_ns >= ? AND start_ns < ? AND attributes LIKE ?")
        args: list[Any] = [start_ns, end_ns, f'%"{key}"%']
        if recent is not None and conversation is None:
            turns = ("SELECT trace_id FROM conversation_traces WHERE start_ns >= ? AND start_ns < ? AND conversation_id IN "
                     "(SELECT conversation_id FROM conversation_traces WHERE start_ns >= ? AND start_ns < ? "
                     "GROUP BY conversation_id ORDER BY MAX(start_ns) DESC LIMIT ?)")
            sql += f" AND trace_id IN ({turns})"
            args += [start_ns, end_ns, start_ns, end_ns, max_conversations]
        if conversation is not None:
            sql += f" AND json_extract(attributes, '$.\"{key}\"') = ?"
            args.append(conversation)
        if service:
            sql += " AND service = ?"
            args.append(service)
        return self._conn.execute(sql, args).fetchall()

    def log_attributes(self, key: str, start_ns: int, end_ns: int, service: str | None) -> list[tuple[str, str]]:
        """(attributes JSON, trace_id) of the window's log records that carry attribute `key` (evaluation events)."""
        sql = "SELECT attributes, trace_id FROM logs WHERE ts_ns >= ? AND ts_ns < ? AND attributes LIKE ?"
        args: list[Any] = [start_ns, end_ns, f'%"{key}"%']
        if service:
            sql += " AND service = ?"
            args.append(service)
        return self._conn.execute(sql, args).fetchall()

    def error_logs(self, trace_ids: list[str], start_ns: int, end_ns: int) -> dict[str, str]:  # noqa: ARG002 - trace ids are unique here
        if not trace_ids:
            return {}
        marks = ",".join("?" * len(trace_ids))
        rows = self._conn.execute(
            f"SELECT trace_id, severity, body FROM logs WHERE trace_id IN ({marks}) ORDER BY ts_ns", trace_ids
        ).fetchall()
        return most_severe_per_trace(rows)

    def _inference_figures(self, start_ns: int, end_ns: int, service: str | None) -> dict[str, float]:
        """Cache hit ratio and mean batch size of the optimizer pieces, from their last cumulative points."""
        svc = " AND service = ?" if service else ""
        args: list[object] = [start_ns, end_ns] + ([service] if service else [])
        out: dict[str, float] = {}
        rows = self._conn.execute(
            "SELECT attributes, MAX(value) FROM metric_points WHERE name = 'agent_otel.cache.requests' AND ts_ns >= ? AND ts_ns < ?"
            + svc + " GROUP BY attributes", args).fetchall()
        hits = sum(v for a, v in rows if '"hit"' in a)
        total = sum(v for _, v in rows)
        if total:
            out["cache_hit_ratio"] = round(hits / total, 4)
            out["cache_requests"] = total
        row = self._conn.execute(
            "SELECT MAX(count), MAX(sum) FROM metric_points WHERE name = 'agent_otel.batcher.batch_size' AND ts_ns >= ? AND ts_ns < ?" + svc, args).fetchone()
        if row and row[0]:
            out["batches"] = row[0]
            out["mean_batch_size"] = round(row[1] / row[0], 2)
        return out

    def resources(self, start_ns: int, end_ns: int, service: str | None) -> ResourceFigures:
        def avg(name: str) -> float | None:
            """Mean over collections of the per-collection total (CPU comes split by cpu.mode)."""
            inner = "SELECT ts_ns, SUM(value) AS total FROM metric_points WHERE name = ? AND ts_ns >= ? AND ts_ns < ?"
            args: list[object] = [name, start_ns, end_ns]
            if service:
                inner += " AND service = ?"
                args.append(service)
            (value,) = self._conn.execute(f"SELECT AVG(total) FROM ({inner} GROUP BY ts_ns, service)", args).fetchone()
            return value

        return ResourceFigures(
            extra=self._inference_figures(start_ns, end_ns, service),
            cpu_utilization=avg(CPU_METRIC),
            memory_rss_bytes=avg(MEMORY_METRIC),
            gpu_utilization=avg(GPU_UTIL_METRIC),
            gpu_memory_bytes=avg(GPU_MEMORY_METRIC),
        )
