"""The embedded local store: one SQLite file with spans, metric points and logs.

SQLite in WAL mode lets several agent processes write and a report read at the same time;
`busy_timeout` makes concurrent writers wait instead of failing. The store is bounded: rows
older than `retention` and spans beyond `max_spans` are deleted as new batches arrive.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import stat
import threading
import time
from pathlib import Path

from agent_otel import semconv, settings
from agent_otel.errors import StoreNotFoundError  # a SourceError: readers say where data went
from agent_otel.localstore import summaries as span_summaries
from agent_otel.localstore.summaries import Summarizer

_logger = logging.getLogger("agent_otel.localstore")

DEFAULT_RETENTION_S = 7 * 24 * 3600
DEFAULT_MAX_SPANS = 5_000_000
_PRUNE_EVERY = 50  # batches

SCHEMA = """
CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_id TEXT,
    service TEXT, name TEXT, kind TEXT, target TEXT,
    start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, duration_ms REAL NOT NULL,
    error INTEGER NOT NULL DEFAULT 0, error_type TEXT,
    model TEXT, provider TEXT, input_tokens INTEGER, output_tokens INTEGER,
    attributes TEXT
);
CREATE INDEX IF NOT EXISTS spans_start ON spans(start_ns);
CREATE INDEX IF NOT EXISTS spans_trace ON spans(trace_id);
CREATE TABLE IF NOT EXISTS metric_points (
    ts_ns INTEGER NOT NULL, service TEXT, name TEXT NOT NULL, unit TEXT,
    attributes TEXT, value REAL, count INTEGER, sum REAL
);
CREATE INDEX IF NOT EXISTS metric_points_ts ON metric_points(name, ts_ns);
CREATE TABLE IF NOT EXISTS logs (
    ts_ns INTEGER NOT NULL, service TEXT, severity TEXT, body TEXT,
    trace_id TEXT, span_id TEXT, attributes TEXT
);
CREATE INDEX IF NOT EXISTS logs_ts ON logs(ts_ns);
CREATE INDEX IF NOT EXISTS logs_trace ON logs(trace_id);
CREATE TABLE IF NOT EXISTS span_events (
    trace_id TEXT NOT NULL, span_id TEXT NOT NULL, ts_ns INTEGER NOT NULL, name TEXT, attributes TEXT
);
CREATE INDEX IF NOT EXISTS span_events_trace ON span_events(trace_id);
CREATE TABLE IF NOT EXISTS conversation_traces (
    conversation_id TEXT NOT NULL, trace_id TEXT NOT NULL, start_ns INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, trace_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS conversation_traces_start ON conversation_traces(start_ns);
"""


_CONVERSATION = re.compile(r'"' + re.escape(semconv.GEN_AI_CONVERSATION_ID) + r'": ("(?:[^"\\]|\\.)*")')
_START, _ATTRS = 7, -1  # span rows: start_ns is the 8th column, attributes JSON the last (exporters.SPAN_COLUMNS)


def conversation_turns(rows: list[tuple[object, ...]]) -> list[tuple[str, str, int]]:
    """(conversation id, trace id, first start) of the span rows that carry a conversation id: a
    substring find per span, a regex match at that place, and each id's JSON decoded once per
    batch (no JSON parse per span: about 0.1 µs for a span without one, 1.3 µs with)."""
    prefix = f'"{semconv.GEN_AI_CONVERSATION_ID}": '
    out: dict[tuple[str, str], int] = {}
    decoded: dict[str, str] = {}
    for r in rows:
        attrs = r[_ATTRS]
        at = attrs.find(prefix) if isinstance(attrs, str) else -1
        if at < 0:
            continue
        m = _CONVERSATION.match(attrs, at)  # type: ignore[union-attr]
        if m is None:
            continue
        raw = m.group(1)
        cid = decoded.get(raw)
        if cid is None:
            cid = decoded[raw] = str(json.loads(raw))
        k, start = (cid, str(r[0])), int(r[_START])  # type: ignore[call-overload]
        if start < out.get(k, start + 1):
            out[k] = start
    return [(c, t, s) for (c, t), s in out.items()]


def default_path() -> Path:
    env = settings.raw(semconv.ENV_STORE_PATH)
    if env:
        return Path(env).expanduser()
    base = settings.raw("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "agent-otel" / "store.db"


def _tighten(path: Path, mode: int) -> str | None:
    """chmod `path` to `mode` if group or others may read it; says what it was, else None."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    old = stat.S_IMODE(st.st_mode)
    if not old & 0o077:
        return None
    try:
        os.chmod(path, mode)
    except OSError as exc:  # e.g. owned by another user: say so, but the store still works
        return f"{path} is mode {old:o} and could not be tightened ({exc.strerror})"
    return f"{path} {old:o}->{mode:o}"


def make_private(p: Path) -> None:
    """The store only for its owner: its directory 0700 when it is agent-otel's own (created here,
    or the default one), the database and its -wal/-shm files 0600. Looser ones found from an
    older version are tightened with a one-line warning. A directory the user chose for the file
    (AGENT_OTEL_STORE=/srv/x.db) is left as it is: the files' own modes keep them private."""
    parent = p.parent
    if not parent.exists():
        parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(parent, 0o700)
    fixed = [_tighten(parent, 0o700)] if parent == default_path().parent or parent.name == "agent-otel" else []
    if not p.exists():
        os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o600))
    fixed += [_tighten(Path(f"{p}{suffix}"), 0o600) for suffix in ("", "-wal", "-shm", "-journal")]
    fixed = [f for f in fixed if f]
    if fixed:
        _logger.warning("agent-otel: local store was readable by other users; tightened: %s", "; ".join(fixed))


def connect(path: str | os.PathLike[str] | None = None, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the pragmas every reader and writer of the store needs."""
    p = Path(path).expanduser() if path else default_path()
    if readonly:
        if not p.exists():
            raise StoreNotFoundError(f"local store {p} does not exist (run an agent with configure(exporter='local') first)")
    else:
        make_private(p)
    conn = sqlite3.connect(str(p), timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=30000")
    if not readonly:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
        make_private(p)  # the -wal/-shm files now exist (SQLite gives them the database's mode)
    return conn


class Store:
    """A writer's handle: batches go in one transaction each; pruning runs now and then."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        retention_s: float = DEFAULT_RETENTION_S,
        max_spans: int = DEFAULT_MAX_SPANS,
        summaries: bool = True,
    ) -> None:
        self.path = Path(path).expanduser() if path else default_path()
        self.retention_s = retention_s
        self.max_spans = max_spans
        self._conn = connect(self.path)
        self._lock = threading.Lock()
        self._batches = 0
        self._summaries = Summarizer(self._conn) if summaries else None
        self._summary_failed = False

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
        self.write_many([(table, columns, rows)])

    def write_many(self, batches: list[tuple[str, tuple[str, ...], list[tuple[object, ...]]]]) -> None:
        """Rows of several tables in one transaction; span rows (in SPAN_COLUMNS order) are
        summarised in the same transaction (localstore.summaries)."""
        batches = [b for b in batches if b[2]]
        if not batches:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for table, columns, rows in batches:
                    self._conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)
                    if table == "spans":
                        self._note_conversations(rows)
                        if self._summaries is not None:
                            self._summarise(rows)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._batches += 1
            if self._batches % _PRUNE_EVERY == 1:
                self._prune()

    def _note_conversations(self, rows: list[tuple[object, ...]]) -> None:
        """One (conversation, trace) row per turn, so a report over a big window lists its
        conversations from this small table instead of scanning every span's attributes."""
        seen = conversation_turns(rows)
        if seen:
            self._conn.executemany("INSERT OR IGNORE INTO conversation_traces VALUES (?, ?, ?)", seen)

    def _prune(self) -> None:
        cutoff = int((time.time() - self.retention_s) * 1e9)
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for table, column in (("spans", "start_ns"), ("metric_points", "ts_ns"), ("logs", "ts_ns"), ("span_events", "ts_ns"),
                                  ("conversation_traces", "start_ns")):
                self._conn.execute(f"DELETE FROM {table} WHERE {column} < ?", (cutoff,))
            span_summaries.prune(self._conn, cutoff)
            (count,) = self._conn.execute("SELECT COUNT(*) FROM spans").fetchone()
            if count > self.max_spans:
                self._conn.execute(
                    "DELETE FROM spans WHERE rowid IN (SELECT rowid FROM spans ORDER BY start_ns LIMIT ?)",
                    (count - self.max_spans,),
                )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def prune(self) -> None:
        with self._lock:
            self._prune()

    def _summarise(self, rows: list[tuple[object, ...]] | None, *, compact_past: bool = False) -> None:
        """Add `rows` to the summaries (None: flush them). Summaries never cost a span: if they
        fail, their part is undone (those rows stay uncovered, so reports read them raw) and the
        spans are still written."""
        self._conn.execute("SAVEPOINT summaries")
        try:
            if rows is None:
                self._summaries.flush(self._conn, compact_past=compact_past)  # type: ignore[union-attr]
            else:
                self._summaries.add(self._conn, rows)  # type: ignore[union-attr]
            self._conn.execute("RELEASE summaries")
        except Exception:  # noqa: BLE001 - logged once, counted as lost summaries only
            self._conn.execute("ROLLBACK TO summaries")
            self._conn.execute("RELEASE summaries")
            self._summaries.drop_buffer()  # type: ignore[union-attr]
            if not self._summary_failed:
                self._summary_failed = True
                _logger.warning("local store: could not summarise spans; reports read them raw", exc_info=True)

    def flush_summaries(self, *, compact_past: bool = False) -> None:
        """Summarise the span rows still buffered (a reader reads them raw until then);
        `compact_past`: and merge each past minute's chunks into one row (on close)."""
        if self._summaries is None:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._summarise(None, compact_past=compact_past)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        try:
            self.flush_summaries(compact_past=True)
        except sqlite3.Error:
            _logger.warning("local store: could not summarise the last spans (reports read them raw)", exc_info=True)
        with self._lock:
            self._conn.close()
