"""Hour and 10-minute rows: the minute summaries (localstore.summaries) of each complete block
merged once, so a window of hours reads one row per hour, a 10-minute row per whole 10 minutes of
the hours it cuts, and the minute rows at its edges.

A minute row of 500 keys holds ~100k sketch bins; a window of three busy hours would read 180 of
them. A block's row holds the same sketch counts summed (so its percentiles are those of its
minutes, bin for bin), the same exact counts, tokens, errors and slowest roots, and:

- raw duration samples drawn per (kind, target) — the report's group — up to `GROUP_SAMPLES`
  (what the report draws per group), each with the number of spans it stands for, so the
  baseline test keeps its raw samples without the hour carrying 64 per key and minute;
- root spans' trace ids, one weighted pool of `ROOT_SAMPLES` (the critical-path sample draws 205
  per window), with their weights;
- a timeline: each minute's figures per key and each minute's sketch of all root spans, for the
  report's per-minute time series.

A block's row is built by the writer when its data moves past the block (or on close), and records
which minute rows it was built from (their count, spans and rowids summed). A reader uses it only
where the minute rows of that block are still exactly those — a late batch or a pruned minute
makes it read the minutes instead, until the writer rebuilds the row — and only for a report of
all services (the timeline's root sketch is of all services).
"""

from __future__ import annotations

import json
import sqlite3
import struct
from dataclasses import dataclass

import numpy as np

from agent_otel.localstore import summaries as sm

HOUR_NS = sm.HOUR_NS
TEN_MINUTES_NS = sm.BLOCK_NS
LEVELS = (HOUR_NS, TEN_MINUTES_NS)  # block lengths, longest first (a reader takes the longest that fits)
GROUP_SAMPLES = 5000   # raw durations kept per (kind, target) and hour (stats.MAX_TEST_SAMPLES: what a report draws per group)
ROOT_SAMPLES = 1024    # root spans kept per hour for the critical-path sample (which draws 205 per window)
BUILDS_PER_CALL = 4    # rows (re)built per level and writer call at most: a store from before them is caught up over a few blocks

SCHEMA = """
CREATE TABLE IF NOT EXISTS block_summaries (
    level_ns INTEGER NOT NULL, interval_ns INTEGER NOT NULL, minute_rows INTEGER NOT NULL, spans INTEGER NOT NULL, rowid_sum INTEGER NOT NULL,
    min_start_ns INTEGER NOT NULL, max_start_ns INTEGER NOT NULL, max_end_ns INTEGER NOT NULL,
    figures BLOB NOT NULL, timeline BLOB NOT NULL, PRIMARY KEY (level_ns, interval_ns)
);
"""


@dataclass
class Timeline:
    """Per-minute figures of a block: rows (minute, key) with the key's stats in that minute, and
    each minute's sketch of every root span."""

    minute: np.ndarray      # (T,) int64 minute start
    key: np.ndarray         # (T,) index into the block chunk's keys
    stats: np.ndarray       # (T, len(STATS))
    root_minute: np.ndarray  # (B,) int64 minute start
    root_bin: np.ndarray    # (B,) sketch key
    root_count: np.ndarray  # (B,)

    NAMES = ("minute", "key", "stats", "root_minute", "root_bin", "root_count")

    def encode(self, hour_ns: int) -> bytes:
        arrays = [("minute", ((self.minute - hour_ns) // sm.INTERVAL_NS).astype(np.int16)), ("key", self.key.astype(np.int32)),
                  ("stats", np.ascontiguousarray(self.stats, np.float64)),
                  ("root_minute", ((self.root_minute - hour_ns) // sm.INTERVAL_NS).astype(np.int16)),
                  ("root_bin", self.root_bin.astype(np.int32)), ("root_count", self.root_count.astype(np.int64))]
        header = json.dumps([[n, a.dtype.str, list(a.shape)] for n, a in arrays], separators=(",", ":")).encode()
        return struct.pack("<I", len(header)) + header + b"".join(a.tobytes() for _, a in arrays)

    @classmethod
    def decode(cls, blob: bytes, hour_ns: int) -> Timeline:
        (n,) = struct.unpack_from("<I", blob)
        offset, arrays = 4 + n, {}
        for name, dtype, shape in json.loads(blob[4 : 4 + n]):
            dt = np.dtype(dtype)
            count = int(np.prod(shape))
            arrays[name] = np.frombuffer(blob, dt, count, offset).reshape(shape)
            offset += count * dt.itemsize
        for name in ("minute", "root_minute"):
            arrays[name] = arrays[name].astype(np.int64) * sm.INTERVAL_NS + hour_ns
        return cls(**arrays)


def merge_block(chunks: list[sm.Chunk], hour_ns: int, rng: np.random.Generator) -> tuple[sm.Chunk, Timeline]:
    """The row of the minute rows `chunks` of the block starting at `hour_ns`."""
    merged = sm.merge(chunks, rng, samples_per_key=0, root_samples_per_key=0)
    merged.interval_ns = hour_ns
    index = {k: i for i, k in enumerate(merged.keys)}
    remaps = [np.fromiter((index[k] for k in c.keys), np.int64, len(c.keys)) for c in chunks]
    groups: dict[tuple, int] = {}
    group_of = np.fromiter((groups.setdefault((k[1], k[2]), len(groups)) for k in merged.keys), np.int64, len(merged.keys))

    def cat(name: str, remap: bool = False) -> np.ndarray:
        parts = [m[getattr(c, name)] if remap else getattr(c, name) for c, m in zip(chunks, remaps)]
        return np.concatenate(parts) if parts else np.zeros(0)

    sk, sms, sw = cat("sample_key", True).astype(np.int64), cat("sample_ms"), sm.sample_weights(chunks, "sample_key", sm.COUNT)
    keep, kept_w = _pick_weighted(group_of[sk] if sk.size else sk, sw, GROUP_SAMPLES, rng)
    by_key = np.argsort(sk[keep], kind="stable")  # each key's samples still in the pick's (random) order
    order = keep[by_key]
    merged.sample_key, merged.sample_ms, merged.sample_w = sk[order].astype(np.int32), sms[order].astype(np.float64), kept_w[by_key]
    rk, rms, rw = cat("root_key", True).astype(np.int64), cat("root_ms"), sm.sample_weights(chunks, "root_key", sm.COUNT)
    rt = sm.join_ids([c.root_tid for c in chunks])
    keep, kept_w = _pick_weighted(np.zeros(rk.size, np.int64), rw, ROOT_SAMPLES, rng)
    by_key = np.argsort(rk[keep], kind="stable")
    order = keep[by_key]
    merged.root_key, merged.root_ms, merged.root_tid, merged.root_w = rk[order].astype(np.int32), rms[order].astype(np.float64), rt[order], kept_w[by_key]
    return merged, timeline_of(chunks, remaps, merged.keys)


def _pick_weighted(group: np.ndarray, weight: np.ndarray, cap: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Up to `cap` items per group (`summaries.weighted_pick`) and the spans each kept item stands
    for: its own weight where the group was kept whole, else the group's spans over the items kept."""
    if group.size == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    keep = sm.weighted_pick(group, weight, cap, rng)
    n_groups = int(group.max()) + 1
    items = np.bincount(group, minlength=n_groups)
    kept = np.bincount(group[keep], minlength=n_groups)
    spans = np.bincount(group, weights=weight, minlength=n_groups)
    g = group[keep]
    return keep, np.where(items[g] > kept[g], spans[g] / np.maximum(kept[g], 1), weight[keep])


def timeline_of(chunks: list[sm.Chunk], remaps: list[np.ndarray], keys: list[sm.Key]) -> Timeline:
    is_root = np.array([bool(k[4]) for k in keys], dtype=bool)
    minute, key, stats, r_min, r_bin, r_cnt = [], [], [], [], [], []
    for c, m in zip(chunks, remaps):
        if not len(m):
            continue
        minute.append(np.full(len(m), c.interval_ns, np.int64))
        key.append(m)
        stats.append(c.stats)
        roots = np.flatnonzero(is_root[m[c.bin_key]]) if c.bin_key.size else np.zeros(0, np.int64)
        r_min.append(np.full(roots.size, c.interval_ns, np.int64))
        r_bin.append(c.bin[roots].astype(np.int64))
        r_cnt.append(c.bin_count[roots].astype(np.int64))
    if not minute:
        z = np.zeros(0, np.int64)
        return Timeline(z, z, np.zeros((0, len(sm.STATS))), z, z, z)
    rm, rb, rc = np.concatenate(r_min), np.concatenate(r_bin), np.concatenate(r_cnt)
    code = (rm // sm.INTERVAL_NS) * (1 << 32) + (rb & 0xFFFFFFFF)  # roots of all keys of a minute: one sketch
    uniq, inverse = np.unique(code, return_inverse=True)
    counts = np.bincount(inverse, weights=rc, minlength=uniq.size).astype(np.int64)
    return Timeline(np.concatenate(minute), np.concatenate(key), np.concatenate(stats),
                    (uniq >> 32) * sm.INTERVAL_NS, (uniq & 0xFFFFFFFF).astype(np.uint32).astype(np.int32).astype(np.int64), counts)


def fingerprints(rows: list[tuple[int, int, int]], level_ns: int) -> dict[int, tuple[int, int, int]]:
    """Per block, (minute rows, spans, rowids summed) of minute rows given as (rowid, interval_ns, spans)."""
    out: dict[int, list[int]] = {}
    for rowid, iv, spans in rows:
        cur = out.setdefault(iv - iv % level_ns, [0, 0, 0])
        cur[0] += 1
        cur[1] += spans
        cur[2] += rowid
    return {h: (a, b, c) for h, (a, b, c) in out.items()}


def build(conn: sqlite3.Connection, *, before_ns: int, rng: np.random.Generator, limit: int = BUILDS_PER_CALL) -> int:
    """(Re)build the rows of blocks (each level) ending at or before `before_ns` whose minute rows
    are not what their row was built from, newest first, `limit` per level at most; drop those of
    blocks without minute rows left. Returns how many were built. Runs in the caller's transaction."""
    minutes = conn.execute("SELECT rowid, interval_ns, spans FROM span_summaries WHERE interval_ns < ?",
                           (before_ns - before_ns % TEN_MINUTES_NS,)).fetchall()
    built = 0
    for level in LEVELS:
        end = before_ns - before_ns % level
        now = fingerprints([r for r in minutes if r[1] < end], level)
        have = {h: (n, s, r) for h, n, s, r in conn.execute(
            "SELECT interval_ns, minute_rows, spans, rowid_sum FROM block_summaries WHERE level_ns = ? AND interval_ns < ?", (level, end))}
        gone = [(level, h) for h in have if h not in now]
        if gone:
            conn.executemany("DELETE FROM block_summaries WHERE level_ns = ? AND interval_ns = ?", gone)
        for h in sorted((h for h, fp in now.items() if have.get(h) != fp), reverse=True)[:limit]:
            rows = conn.execute("SELECT rowid, interval_ns, spans, min_start_ns, max_start_ns, max_end_ns, figures FROM span_summaries "
                                "WHERE interval_ns >= ? AND interval_ns < ?", (h, h + level)).fetchall()
            chunk, timeline = merge_block([sm.Chunk.decode(f, iv, n, a, b, e) for _, iv, n, a, b, e, f in rows], h, rng)
            (count, spans, rowid_sum), = fingerprints([(r[0], r[1], r[2]) for r in rows], level).values()
            conn.execute("INSERT OR REPLACE INTO block_summaries (level_ns, interval_ns, minute_rows, spans, rowid_sum, min_start_ns, max_start_ns, "
                         "max_end_ns, figures, timeline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (level, h, count, spans, rowid_sum, chunk.min_start_ns, chunk.max_start_ns, chunk.max_end_ns, chunk.encode(), timeline.encode(h)))
            built += 1
    return built


def prune(conn: sqlite3.Connection, cutoff_ns: int) -> None:
    """Rows of blocks that began before `cutoff_ns` go (some of their minutes have; the rest is
    read from minute rows, or rebuilt)."""
    try:
        conn.execute("DELETE FROM block_summaries WHERE interval_ns < ?", (cutoff_ns,))
    except sqlite3.OperationalError:  # a store that never kept them
        pass


def usable(conn: sqlite3.Connection, start_ns: int, end_ns: int, minute_rows: list[tuple[int, int, int]]) -> list[tuple]:
    """Block rows whose spans all lie in [start_ns, end_ns) and whose minute rows (given as
    (rowid, interval_ns, spans): every minute row of the window's minutes) are those it was built
    from, hours first, then 10-minute blocks outside them: (interval_ns, spans, min_start,
    max_start, max_end, figures, timeline) each."""
    try:
        rows = conn.execute(
            "SELECT level_ns, interval_ns, minute_rows, spans, rowid_sum, min_start_ns, max_start_ns, max_end_ns FROM block_summaries "
            "WHERE interval_ns >= ? AND interval_ns < ? AND min_start_ns >= ? AND max_start_ns < ?",
            (start_ns - start_ns % HOUR_NS, end_ns, start_ns, end_ns)).fetchall()
    except sqlite3.OperationalError:  # a store written before block rows existed
        return []
    if not rows:
        return []
    wanted: set[tuple[int, int]] = set()  # (start, level) of the blocks taken
    for level in LEVELS:
        now = fingerprints(minute_rows, level)
        for lv, h, n, spans, rsum, *_ in rows:
            if lv == level and now.get(h) == (n, spans, rsum) and not any((h - h % longer, longer) in wanted for longer in LEVELS if longer > level):
                wanted.add((h, level))
    out = []
    for lv, h, _, spans, _, lo, hi, end in rows:
        if (h, lv) in wanted:
            figures, timeline = conn.execute("SELECT figures, timeline FROM block_summaries WHERE level_ns = ? AND interval_ns = ?", (lv, h)).fetchone()
            out.append((h, lv, spans, lo, hi, end, figures, timeline))
    return out
