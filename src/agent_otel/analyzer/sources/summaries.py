"""A window of the local store read from its per-minute summaries (localstore.summaries).

Minutes lying wholly inside the window are read from their summary rows; the spans of a minute
cut by the window's edge from that minute's span columns (localstore.edge_columns: raw only for a
store written before they existed); spans no summary covers yet (the last second's, or a dead
writer's buffer) are read raw and summarised on the fly the same way, so every span of the window
counts exactly once. The result keeps one row per (minute, key) so figures can be grouped by key, by
service or by time.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent_otel.localstore import edge_columns, block_summaries
from agent_otel.localstore.exporters import SPAN_COLUMNS
from agent_otel.localstore.summaries import COUNT, INTERVAL_NS, Chunk, TokenRollup, join_ids, sample_weights, summarise

RAW_COLUMNS = ", ".join(c for c in SPAN_COLUMNS if c != "attributes")


@dataclass
class WindowSummary:
    """Summary rows of a window: row r is key `keys[key_of[r]]` in minute `minute[r]`."""

    keys: list[tuple]
    key_of: np.ndarray          # (R,) index into keys
    minute: np.ndarray          # (R,) int64 interval start
    stats: np.ndarray           # (R, len(STATS))
    bin_row: np.ndarray
    bin: np.ndarray
    bin_count: np.ndarray
    sample_row: np.ndarray
    sample_ms: np.ndarray
    sample_weight: np.ndarray   # spans each sample stands for
    root_row: np.ndarray
    root_ms: np.ndarray
    root_tid: np.ndarray        # S32 hex or V16 raw (summaries.id_text reads one)
    root_weight: np.ndarray
    slow_row: np.ndarray
    slow_ms: np.ndarray
    slow_tid: np.ndarray
    errors: list[list[Any]]     # [row, error_type, count, latest_start_ns, latest_trace_id], one per key and type (row: one of the key's)
    rollup: list[list[Any]]     # [row, model, input tokens, output tokens], one per key and model (row: one of the key's)
    data_start_ns: int
    data_end_ns: int
    raw_spans: int              # spans read raw (edges, not yet summarised)
    summary_rows: int           # summary rows read
    from_block: np.ndarray      # (R,) bool: the row is a block's (an hour or 10 minutes: localstore.block_summaries): its minutes are in the timeline below
    tl_minute: np.ndarray       # (T,) the blocks' timelines: minute start,
    tl_key_of: np.ndarray       # (T,) index into keys,
    tl_stats: np.ndarray        # (T, len(STATS)) the key's figures in that minute
    tl_root_minute: np.ndarray  # (B,) and each minute's sketch of all root spans
    tl_root_bin: np.ndarray
    tl_root_count: np.ndarray

    def __len__(self) -> int:
        return int(self.stats[:, 0].sum()) if self.stats.size else 0


def _gaps(conn: sqlite3.Connection) -> list[tuple[int, int]]:
    """Rowid ranges of `spans` no summary covers."""
    (top,) = conn.execute("SELECT MAX(rowid) FROM spans").fetchone()
    if top is None:
        return []
    gaps, cursor = [], 1
    for lo, hi in conn.execute("SELECT lo, hi FROM summary_coverage ORDER BY lo"):
        if lo > cursor:
            gaps.append((cursor, lo - 1))
        cursor = max(cursor, hi + 1)
    if cursor <= top:
        gaps.append((cursor, top))
    return gaps


def summarised_spans(conn: sqlite3.Connection, start_ns: int, end_ns: int) -> int | None:
    """Spans in the window by the summaries' counts (all services: it bounds any one); None when the
    store keeps no summaries (written before they existed). Cheap, for choosing how to report."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'span_summaries'").fetchone() is None:
        return None
    sql = "SELECT COALESCE(SUM(spans), 0) FROM span_summaries WHERE interval_ns >= ? AND interval_ns < ?"
    (n,) = conn.execute(sql, (start_ns - start_ns % 60_000_000_000, end_ns)).fetchone()
    return int(n)


def load(conn: sqlite3.Connection, start_ns: int, end_ns: int, service: str | None, rng: np.random.Generator) -> WindowSummary | None:
    """The window's summary, or None when the store keeps no summaries."""
    try:
        meta = conn.execute(
            "SELECT rowid, interval_ns, spans, min_start_ns, max_start_ns, max_end_ns FROM span_summaries WHERE interval_ns >= ? AND interval_ns < ?",
            (start_ns - start_ns % INTERVAL_NS, end_ns)).fetchall()
        gaps = _gaps(conn)
    except sqlite3.OperationalError:  # a store written before summaries existed
        return None
    # hours and 10 minutes wholly inside the window from their block rows (a report of all services: the timeline's root sketch is of all of them)
    blocks = block_summaries.usable(conn, start_ns, end_ns, [(r[0], r[1], r[2]) for r in meta]) if service is None else []
    covered = {(length, h) for h, length, *_ in blocks}
    meta = [r for r in meta if not any((length, r[1] - r[1] % length) in covered for length in block_summaries.LEVELS)]
    rows = _figures(conn, meta)
    inside: dict[int, bool] = {}
    spans_of: dict[int, int] = {}
    for iv, n, lo, hi, _, _ in rows:
        inside[iv] = inside.get(iv, True) and lo >= start_ns and hi < end_ns
        spans_of[iv] = spans_of.get(iv, 0) + n
    partial = sorted(iv for iv, ok in inside.items() if not ok)
    keys_cache: dict[bytes, list] = {}  # minutes of the same agents share one parsed key list
    chunks = [Chunk.decode(f, iv, n, lo, hi, e, keys_cache) for iv, n, lo, hi, e, f in rows if inside[iv]]
    raw: list[tuple] = []
    cut = set()
    for iv in partial:  # a minute the window cuts: its spans inside the window, from their columns (else raw)
        lo, hi = max(start_ns, iv), min(end_ns, iv + INTERVAL_NS)
        edge = edge_columns.edge_chunk(conn, iv, lo, hi, spans_of[iv], rng)
        if edge is not None:
            chunks.append(edge)
            continue
        raw += conn.execute(f"SELECT {RAW_COLUMNS} FROM spans WHERE start_ns >= ? AND start_ns < ?", (lo, hi)).fetchall()
        cut.add(iv)
    for lo, hi in gaps:  # spans no summary holds yet
        for r in conn.execute(f"SELECT {RAW_COLUMNS} FROM spans WHERE rowid BETWEEN ? AND ? AND start_ns >= ? AND start_ns < ?", (lo, hi, start_ns, end_ns)):
            if r[7] - r[7] % INTERVAL_NS not in cut:
                raw.append(r)
    if raw:
        rows_full = [(*r, None) for r in raw]  # the summariser reads SPAN_COLUMNS positions; attributes unused
        chunks += summarise(rows_full, rng, TokenRollup()).values()
    block_rows = [(Chunk.decode(f, h, n, lo, hi, e, keys_cache), block_summaries.Timeline.decode(t, h)) for h, _, n, lo, hi, e, f, t in blocks]
    return _combine(chunks, block_rows, service, len(raw), len(rows) + len(blocks))


def _figures(conn: sqlite3.Connection, meta: list[tuple]) -> list[tuple]:
    """(interval_ns, spans, min_start, max_start, max_end, figures) of the summary rows in `meta`
    (rowid, interval_ns, spans, ...), read in runs of consecutive rowids."""
    if not meta:
        return []
    ids = sorted(r[0] for r in meta)
    blobs: dict[int, bytes] = {}
    lo = prev = ids[0]
    for i in [*ids[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        blobs.update(conn.execute("SELECT rowid, figures FROM span_summaries WHERE rowid BETWEEN ? AND ?", (lo, prev)))
        if i is not None:
            lo = prev = i
    return [(iv, n, a, b, e, blobs[rid]) for rid, iv, n, a, b, e in meta if rid in blobs]


def _combine(chunks: list[Chunk], block_rows: list[tuple[Chunk, block_summaries.Timeline]], service: str | None, raw_spans: int,
             summary_rows: int) -> WindowSummary:
    keys: dict[tuple, int] = {}
    parts: dict[str, list[np.ndarray]] = {n: [] for n in ("key_of", "minute", "stats", "bin_row", "bin", "bin_count", "sample_row", "sample_ms", "sample_weight",
                                                           "root_row", "root_ms", "root_tid", "root_weight", "slow_row", "slow_ms", "slow_tid")}
    errors_by: dict[tuple[int, str], list[Any]] = {}
    rollup_by: dict[tuple[int, Any], list[Any]] = {}
    offset = 0
    starts, ends = [], []
    seen: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # per key list (shared by rows of the same keys): its mask and key indices
    timelines = {id(c): t for c, t in block_rows}
    tl: dict[str, list[np.ndarray]] = {n: [] for n in ("minute", "key_of", "stats", "root_minute", "root_bin", "root_count", "from_block")}
    for c in [*chunks, *(c for c, _ in block_rows)]:
        k = len(c.keys)
        if id(c.keys) not in seen:
            if service is not None:
                mask = np.array([key[0] == service for key in c.keys], dtype=bool)
            else:
                mask = np.ones(k, dtype=bool)
            seen[id(c.keys)] = (mask, np.fromiter((keys.setdefault(tuple(key), len(keys)) for key, m in zip(c.keys, mask) if m), np.int64))
        mine, key_of = seen[id(c.keys)]
        n_mine = key_of.size
        if n_mine == 0:
            continue
        everything = n_mine == k  # no service filter on this row: its entries are taken whole, unmasked
        remap = np.full(k, -1, dtype=np.int32)
        remap[mine] = offset + np.arange(n_mine)
        parts["key_of"].append(key_of)
        parts["minute"].append(np.full(n_mine, c.interval_ns, dtype=np.int64))
        parts["stats"].append(c.stats if everything else c.stats[mine])
        for prefix, key_col in (("bin", "bin_key"), ("sample", "sample_key"), ("root", "root_key"), ("slow", "slow_key")):
            kk = getattr(c, key_col)
            ok: Any = slice(None) if everything else remap[kk] >= 0
            parts[f"{prefix}_row"].append(kk.astype(np.int32) + np.int32(offset) if everything else remap[kk][ok])
            if prefix == "bin":
                parts["bin"].append(c.bin[ok])
                parts["bin_count"].append(c.bin_count[ok])
                continue
            ms = getattr(c, f"{prefix}_ms")
            parts[f"{prefix}_ms"].append(ms[ok])
            if prefix in ("sample", "root"):
                parts[f"{prefix}_weight"].append(sample_weights([c], key_col, COUNT)[ok])
            if prefix in ("root", "slow"):
                tid = getattr(c, f"{prefix}_tid")
                parts[f"{prefix}_tid"].append(tid if everything else tid[ok])
        # errors and roll-up summed per key (they are read per key: a row of the key stands for it)
        glob = np.full(k, -1, np.int64)  # this row's key index -> the window's
        glob[mine] = key_of
        where, glob_of = remap.tolist(), glob.tolist()
        for e in c.errors:
            g = glob_of[e[0]]
            if g < 0:
                continue
            cur = errors_by.get((g, e[1]))
            if cur is None:
                errors_by[(g, e[1])] = [where[e[0]], e[1], e[2], e[3], e[4]]
            else:
                cur[2] += e[2]
                if e[3] > cur[3]:
                    cur[3], cur[4] = e[3], e[4]
        for r in c.rollup:
            g = glob_of[r[0]]
            if g < 0:
                continue
            cur = rollup_by.get((g, r[1]))
            if cur is None:
                rollup_by[(g, r[1])] = [where[r[0]], r[1], r[2], r[3]]
            else:
                cur[2] += r[2]
                cur[3] += r[3]
        timeline = timelines.get(id(c))
        tl["from_block"].append(np.full(n_mine, timeline is not None))
        if timeline is not None:  # no service filter here (block rows serve reports of all services)
            tl["minute"].append(timeline.minute)
            tl["key_of"].append(glob[timeline.key])
            tl["stats"].append(timeline.stats)
            tl["root_minute"].append(timeline.root_minute)
            tl["root_bin"].append(timeline.root_bin)
            tl["root_count"].append(timeline.root_count)
        offset += n_mine
        if c.spans:
            starts.append(c.min_start_ns)
            ends.append(c.max_end_ns)

    def cat(arrays: list[np.ndarray], empty: np.ndarray) -> np.ndarray:
        return np.concatenate(arrays) if arrays else empty

    z64 = np.zeros(0, np.int64)
    stats = cat(parts["stats"], np.zeros((0, 8)))
    return WindowSummary(
        list(keys), cat(parts["key_of"], z64), cat(parts["minute"], z64), stats,
        cat(parts["bin_row"], z64), cat(parts["bin"], np.zeros(0, np.int32)), cat(parts["bin_count"], z64),
        cat(parts["sample_row"], z64), cat(parts["sample_ms"], np.zeros(0)), cat(parts["sample_weight"], np.zeros(0)),
        cat(parts["root_row"], z64), cat(parts["root_ms"], np.zeros(0)), join_ids(parts["root_tid"]), cat(parts["root_weight"], np.zeros(0)),
        cat(parts["slow_row"], z64), cat(parts["slow_ms"], np.zeros(0)), join_ids(parts["slow_tid"]),
        list(errors_by.values()), list(rollup_by.values()), min(starts, default=0), max(ends, default=0), raw_spans, summary_rows,
        cat(tl["from_block"], np.zeros(0, bool)), cat(tl["minute"], z64), cat(tl["key_of"], z64),
        cat(tl["stats"], np.zeros((0, stats.shape[1]))), cat(tl["root_minute"], z64), cat(tl["root_bin"], z64), cat(tl["root_count"], z64),
    )
