"""Mergeable per-minute summaries of the spans, written with them, so a report reads summaries.

Every batch of spans the store writes is also summarised, in the same transaction, into one row
per minute it touches ("chunk"): per key (service, kind, target, model, root or not) the count,
errors, duration sum/min/max, tokens, a DDSketch of the durations (the `ddsketch` package's
logarithmic key mapping at 0.5 % relative accuracy, stored as (key, bin, count) columns so a
window's chunks merge with numpy), a bounded uniform sample of raw durations (and of root spans'
trace ids, for the critical-path sample), the slowest roots, error types with their latest trace,
and the tokens each agent span spent in its subtree. Chunks of a minute that has passed are
merged into one row, so a window of M minutes reads about M rows whatever its span count.

Hand-written on top of `ddsketch` because its sketch objects are per-value Python (a few µs per
add and per merge): here a whole batch is binned at once and whole windows merge as arrays.
"""

from __future__ import annotations

import collections
import json
import math
import sqlite3
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ddsketch.mapping import LogarithmicMapping

INTERVAL_NS = 60 * 10**9
HOUR_NS = 3600 * 10**9  # localstore.block_summaries' blocks: hours...
BLOCK_NS = 10 * INTERVAL_NS  # ...and 10 minutes
RELATIVE_ACCURACY = 0.005
SAMPLES_PER_KEY = 64     # raw durations kept per key and minute (uniform)
ROOT_SAMPLES_PER_KEY = 32  # root spans' trace ids kept per root key and minute (the critical-path sample draws 200 from a window)
SLOWEST_PER_KEY = 5      # slowest root spans kept per key and minute
MIN_MS = 1e-6            # durations at or below 0 are binned here
PENDING_LIMIT = 50_000   # token subtotals waiting for their parent span (oldest dropped beyond)
AGENTS_KNOWN = 10_000    # recent agent spans a late child's tokens can still be charged to
FLUSH_SPANS = 20_000     # buffered span rows summarised at once...
FLUSH_S = 1.0            # ...or once the oldest buffered row waited this long

MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
KIND_AGENT = "agent"

SCHEMA = """
CREATE TABLE IF NOT EXISTS span_summaries (
    interval_ns INTEGER NOT NULL, compacted INTEGER NOT NULL DEFAULT 0, spans INTEGER NOT NULL,
    min_start_ns INTEGER NOT NULL, max_start_ns INTEGER NOT NULL, max_end_ns INTEGER NOT NULL,
    figures BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS span_summaries_interval ON span_summaries(interval_ns);
CREATE TABLE IF NOT EXISTS summary_coverage (lo INTEGER NOT NULL, hi INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS summary_coverage_hi ON summary_coverage(hi);
CREATE INDEX IF NOT EXISTS summary_coverage_lo ON summary_coverage(lo);
"""

STATS = ("count", "errors", "sum_ms", "min_ms", "max_ms", "input_tokens", "output_tokens", "token_spans")
COUNT, ERRORS, SUM, MIN, MAX, IN_TOK, OUT_TOK, TOKEN_SPANS = range(len(STATS))

Key = tuple  # (service, kind, target, model, is_root)


def bin_of(durations_ms: np.ndarray) -> np.ndarray:
    """DDSketch keys of the durations (vectorised `MAPPING.key`)."""
    v = np.maximum(durations_ms, MIN_MS)
    return (np.ceil(np.log2(v) * MAPPING._multiplier) + MAPPING._offset).astype(np.int32)


def value_of(bins: np.ndarray) -> np.ndarray:
    """The value a key stands for (vectorised `MAPPING.value`): within RELATIVE_ACCURACY of any value binned there."""
    return np.power(2.0, (bins - MAPPING._offset) / MAPPING._multiplier) * (2.0 / (1 + MAPPING.gamma))


@dataclass
class Chunk:
    """Summaries of some spans of one minute. Arrays are indexed by position in `keys`."""

    interval_ns: int
    keys: list[Key]
    stats: np.ndarray                      # (K, len(STATS)) float64
    bin_key: np.ndarray                    # (E,) int32: which key
    bin: np.ndarray                        # (E,) int32: DDSketch key
    bin_count: np.ndarray                  # (E,) int64
    sample_key: np.ndarray                 # (S,) int32
    sample_ms: np.ndarray                  # (S,) float64
    root_key: np.ndarray                   # (R,) int32: sampled root spans (the critical-path sample)
    root_ms: np.ndarray                    # (R,) float64
    root_tid: np.ndarray                   # (R,) S32 (hex) or V16 (raw, decoded rows): their trace ids
    slow_key: np.ndarray                   # (L,) int32
    slow_ms: np.ndarray                    # (L,) float64
    slow_tid: np.ndarray                   # (L,) as root_tid
    errors: list[list[Any]] = field(default_factory=list)   # [key, error_type, count, latest_start_ns, latest_trace_id]
    rollup: list[list[Any]] = field(default_factory=list)   # [agent key, model, input tokens, output tokens]
    spans: int = 0
    min_start_ns: int = 0
    max_start_ns: int = 0
    max_end_ns: int = 0
    columns: dict[str, Any] | None = None  # the spans as columns (written to `span_columns`; not part of `encode`)
    sample_w: np.ndarray | None = None      # (S,) spans each sample stands for, where not its key's spans over its key's samples (hour rows)
    root_w: np.ndarray | None = None        # (R,) the same for root_key

    ARRAYS = ("stats", "bin_key", "bin", "bin_count", "sample_key", "sample_ms", "root_key", "root_ms", "root_tid", "slow_key", "slow_ms", "slow_tid")

    def encode(self) -> bytes:
        """Arrays in their smallest lossless integer type (a minute of 500 keys holds ~100k sketch
        bins: reading a window is mostly reading these), named in the header; the sketch's key
        column (sorted) as one run length per key; trace ids as their 16 bytes where they are all
        32 hex digits (as OpenTelemetry's are), else as written. Keys as their own JSON part,
        which a reader parses once for every row holding the same keys (`decode`'s `keys_cache`)."""
        named = []
        for n in self.ARRAYS + tuple(n for n in ("sample_w", "root_w") if getattr(self, n) is not None):
            a = np.ascontiguousarray(getattr(self, n))
            if n == "bin_key" and (a.size < 2 or bool(np.all(a[1:] >= a[:-1]))):
                n, a = "bin_runs", np.bincount(a, minlength=len(self.keys)) if a.size else np.zeros(len(self.keys), np.int64)
            elif n in ("root_tid", "slow_tid") and a.dtype.kind == "S":
                a = raw_ids(a)
            named.append((n, _compact(a)))
        header = json.dumps({"errors": self.errors, "rollup": self.rollup,
                             "arrays": [[n, a.dtype.str, list(a.shape)] for n, a in named]}, separators=(",", ":")).encode()
        keys = json.dumps(self.keys, separators=(",", ":")).encode()
        return struct.pack("<III", LAYOUT_NAMED, len(header), len(keys)) + header + keys + b"".join(a.tobytes() for n, a in named)

    @classmethod
    def decode(cls, blob: bytes, interval_ns: int, spans: int, min_start: int, max_start: int, max_end: int,
               keys_cache: dict[bytes, list[Key]] | None = None) -> Chunk:
        (n,) = struct.unpack_from("<I", blob)
        layout = n
        if n in (0, LAYOUT_NAMED):  # header, keys, arrays (LAYOUT_NAMED: arrays named, as `encode` writes them)
            _, n, nkeys = struct.unpack_from("<III", blob)
            head = json.loads(blob[12 : 12 + n])
            raw_keys = bytes(blob[12 + n : 12 + n + nkeys])
            keys = keys_cache.get(raw_keys) if keys_cache is not None else None
            if keys is None:
                keys = [tuple(k) for k in json.loads(raw_keys)]
                if keys_cache is not None:
                    keys_cache[raw_keys] = keys
            offset = 12 + n + nkeys
        else:  # written before keys had their own part: keys in the header
            head = json.loads(blob[4 : 4 + n])
            keys, offset = [tuple(k) for k in head["keys"]], 4 + n
        arrays = {}
        listed = head["arrays"] if layout == LAYOUT_NAMED else [[name, *spec] for name, spec in zip(cls.ARRAYS, head["arrays"])]
        for name, dtype, shape in listed:
            dt = np.dtype(dtype)
            size = int(np.prod(shape)) * dt.itemsize
            arrays[name] = np.frombuffer(blob, dt, int(np.prod(shape)), offset).reshape(shape)
            offset += size
        if "bin_runs" in arrays:
            runs = arrays.pop("bin_runs")
            arrays["bin_key"] = np.repeat(np.arange(runs.size, dtype=np.int32), runs)
        return cls(interval_ns, keys, errors=head["errors"], rollup=head["rollup"],
                   spans=spans, min_start_ns=min_start, max_start_ns=max_start, max_end_ns=max_end, **arrays)


LAYOUT_NAMED = 1  # first word of a row's blob in the current layout (0: arrays in ARRAYS order; else the older header length)
_HEX = np.array([b"%02x" % i for i in range(256)], dtype="S2")


def raw_ids(ids: np.ndarray) -> np.ndarray:
    """Trace ids (S32 hex) as their 16 raw bytes (V16: numpy keeps trailing zero bytes of a void
    item, not of a bytes one); `ids` unchanged where one is not 32 hex digits."""
    if ids.size == 0:
        return np.zeros(0, "V16")
    try:
        if ids.dtype.itemsize != 32 or not bool(np.all(np.char.str_len(ids) == 32)):
            return ids
        return np.frombuffer(bytes.fromhex(ids.tobytes().decode("ascii")), "V16")
    except (ValueError, UnicodeDecodeError):
        return ids


def hex_ids(ids: np.ndarray) -> np.ndarray:
    """Trace ids as S32 hex, whichever form `ids` holds them in (for joining parts of both forms)."""
    if ids.dtype.kind != "V":
        return ids.astype("S32")
    return _HEX[np.frombuffer(ids.tobytes(), np.uint8)].view("S32") if ids.size else np.zeros(0, "S32")


def id_text(item: Any) -> str:
    """One trace id (an item of a `raw_ids` or S32 array) as text."""
    return item.tobytes().hex() if isinstance(item, np.void) else bytes(item).decode()


def join_ids(parts: list[np.ndarray]) -> np.ndarray:
    """Arrays of trace ids concatenated: raw where all parts are, else hex."""
    if not parts:
        return np.zeros(0, "S32")
    if all(p.dtype.kind == "V" for p in parts) or all(p.dtype.kind != "V" for p in parts):
        return np.concatenate(parts) if all(p.dtype.kind == "V" for p in parts) else np.concatenate(parts).astype("S32")
    return np.concatenate([hex_ids(p) for p in parts])


def _compact(a: np.ndarray) -> np.ndarray:
    """`a` in the smallest integer type holding its values (integers only)."""
    if a.dtype.kind != "i" or a.size == 0:
        return a
    lo, hi = int(a.min()), int(a.max())
    for dt in (np.int16, np.int32):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return a.astype(dt) if a.dtype.itemsize > np.dtype(dt).itemsize else a
    return a


def first_per_group(group: np.ndarray, order_keys: tuple[np.ndarray, ...], cap: int) -> np.ndarray:
    """Indices of the first `cap` items of each group, ordered by `order_keys` (lexsort, last key primary after group)."""
    if group.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((*order_keys, group))
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    rank = np.arange(g.size) - np.repeat(starts, np.diff(np.r_[starts, g.size]))
    return order[rank < cap]


def weighted_pick(group: np.ndarray, weight: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Up to `cap` items per group, each drawn with probability in proportion to its weight (the
    number of spans it stands for): Efraimidis-Spirakis keys, so the pick is a uniform sample of
    the spans behind the items."""
    if group.size == 0:
        return np.zeros(0, dtype=np.int64)
    prio = np.exp(np.log(rng.random(group.size)) / np.maximum(weight, 1e-12))  # u^(1/w) in (0, 1]: larger is picked first
    order = np.argsort(group.astype(np.float64) + (1.0 - prio) * 0.999)        # one float sort key: group, then priority
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    within = np.arange(g.size) - np.repeat(starts, np.diff(np.r_[starts, g.size]))
    return order[within < cap]


def _floats(values: tuple[Any, ...]) -> np.ndarray:
    return np.fromiter((np.nan if v is None else v for v in values), np.float64, len(values))


def build_chunks(rows: list[tuple[Any, ...]], rng: np.random.Generator) -> dict[int, Chunk]:
    """Chunks (one per minute touched) of span rows in the store's column order (SPAN_COLUMNS).
    Token roll-up is not done here (see `Summarizer`)."""
    cols = list(zip(*rows))
    tid, pid, svc, kind, target, start, end, dur, err, etype, model, itok, otok = (
        cols[0], cols[2], cols[3], cols[5], cols[6], cols[7], cols[8], cols[9], cols[10], cols[11], cols[12], cols[14], cols[15])
    start_a = np.fromiter(start, np.int64, len(rows))
    end_a = np.fromiter(end, np.int64, len(rows))
    interval = start_a - start_a % INTERVAL_NS
    out: dict[int, Chunk] = {}
    minutes = np.unique(interval)
    for iv in minutes:
        idx = None if minutes.size == 1 else np.flatnonzero(interval == iv)
        out[int(iv)] = _chunk(int(iv), idx, tid, pid, svc, kind, target, start_a, end_a, dur, err, etype, model, itok, otok, rng)
    return out


def _chunk(iv: int, idx: np.ndarray | None, tid, pid, svc, kind, target, start_a, end_a, dur, err, etype, model, itok, otok,  # noqa: ANN001
           rng: np.random.Generator) -> Chunk:
    if idx is not None:
        pick = idx.tolist()
        tid, pid, svc, kind, target, dur, err, etype, model, itok, otok = (
            [c[i] for i in pick] for c in (tid, pid, svc, kind, target, dur, err, etype, model, itok, otok))
        start_a, end_a = start_a[idx], end_a[idx]
    n = len(dur)
    keys: dict[Key, int] = {}
    kidx = np.fromiter((keys.setdefault(k, len(keys)) for k in zip(svc, kind, target, model, (p is None for p in pid))), np.int32, n)
    d = np.fromiter(dur, np.float64, n)
    e = np.fromiter(err, np.float64, n)
    is_root = np.fromiter((p is None for p in pid), bool, n)
    tid_pos = np.flatnonzero(is_root | (e != 0)).astype(np.int32)
    etypes: dict[str, int] = {}
    codes = np.full(n, -1, np.int16)
    for i in np.flatnonzero(e).tolist():
        codes[i] = etypes.setdefault(etype[i] or "error", len(etypes))
    chunk = chunk_of_arrays(iv, list(keys), kidx, d, e, _floats(tuple(itok)), _floats(tuple(otok)), start_a, int(end_a.max()),
                            tid_pos, np.array([tid[i] for i in tid_pos.tolist()], dtype="S32"), codes, list(etypes), rng)
    return chunk


def chunk_of_arrays(iv: int, keys: list[Key], kidx: np.ndarray, d: np.ndarray, e: np.ndarray, it: np.ndarray, ot: np.ndarray,
                    start_a: np.ndarray, max_end: int, tid_pos: np.ndarray, tids: np.ndarray, codes: np.ndarray, etypes: list[str],
                    rng: np.random.Generator) -> Chunk:
    """A chunk of spans given as columns: key index, duration, error flag, tokens (NaN: none), start;
    trace ids of the roots and failing spans (`tids` at positions `tid_pos`, sorted), error types
    as codes into `etypes` (-1: none). The chunk keeps the columns (`Chunk.columns`) for
    `localstore.edge_columns`."""
    n = d.size
    nk = len(keys)
    is_root = np.array([bool(k[4]) for k in keys], dtype=bool)[kidx] if n else np.zeros(0, bool)
    stats = np.empty((nk, len(STATS)))
    stats[:, COUNT] = np.bincount(kidx, minlength=nk)
    stats[:, ERRORS] = np.bincount(kidx, weights=e, minlength=nk)
    stats[:, SUM] = np.bincount(kidx, weights=d, minlength=nk)
    stats[:, MIN] = np.inf
    stats[:, MAX] = -np.inf
    np.minimum.at(stats[:, MIN], kidx, d)
    np.maximum.at(stats[:, MAX], kidx, d)
    stats[:, IN_TOK] = np.bincount(kidx, weights=np.nan_to_num(it), minlength=nk)
    stats[:, OUT_TOK] = np.bincount(kidx, weights=np.nan_to_num(ot), minlength=nk)
    stats[:, TOKEN_SPANS] = np.bincount(kidx, weights=~(np.isnan(it) & np.isnan(ot)), minlength=nk)
    code = (kidx.astype(np.int64) << 32) | (bin_of(d).astype(np.int64) & 0xFFFFFFFF)
    uniq, counts = np.unique(code, return_counts=True)
    # a chunk covering part of its minute keeps that part of the minute's samples (at least 4 per
    # key): the minute's chunks together hold about SAMPLES_PER_KEY per key before they are merged
    cap = max(4, math.ceil(SAMPLES_PER_KEY * min(1.0, (int(start_a.max()) - int(start_a.min())) / INTERVAL_NS + 1 / 60))) if n else 4
    sample = _uniform(kidx, stats[:, COUNT], cap, rng)
    roots = np.flatnonzero(is_root)
    root_cap = max(4, math.ceil(cap * ROOT_SAMPLES_PER_KEY / SAMPLES_PER_KEY))
    root_sample = roots[_uniform(kidx[roots], np.bincount(kidx[roots], minlength=nk), root_cap, rng)]
    slow = roots[first_per_group(kidx[roots], (-d[roots],), SLOWEST_PER_KEY)]

    def tid_at(positions: np.ndarray) -> np.ndarray:
        return tids[np.searchsorted(tid_pos, positions)] if positions.size else np.zeros(0, "S32")

    errors: dict[tuple[int, int], list[Any]] = {}
    failing = np.flatnonzero(e)
    failing_tid = tid_at(failing).tolist()
    for i, t in zip(failing.tolist(), failing_tid):
        k = (int(kidx[i]), int(codes[i]))
        cur = errors.get(k)
        if cur is None:
            errors[k] = [k[0], etypes[k[1]] if k[1] >= 0 else "error", 1, int(start_a[i]), t.decode()]
        else:
            cur[2] += 1
            if start_a[i] >= cur[3]:
                cur[3], cur[4] = int(start_a[i]), t.decode()
    chunk = Chunk(
        iv, list(keys), stats,
        (uniq >> 32).astype(np.int32), (uniq & 0xFFFFFFFF).astype(np.uint32).astype(np.int32), counts.astype(np.int64),
        kidx[sample], d[sample], kidx[root_sample], d[root_sample], tid_at(root_sample),
        kidx[slow], d[slow], tid_at(slow),
        errors=list(errors.values()), spans=n, min_start_ns=int(start_a.min()) if n else 0, max_start_ns=int(start_a.max()) if n else 0,
        max_end_ns=max_end if n else 0,
    )
    chunk.columns = {"key": kidx.astype(np.int32), "dur": d, "err": e.astype(np.int8), "etype": codes.astype(np.int16), "itok": it, "otok": ot,
                     "start": start_a.astype(np.int64), "tid_pos": tid_pos.astype(np.int32), "tid": tids.astype("S32"), "etypes": etypes}
    return chunk


def _uniform(group: np.ndarray, per_group: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Up to `cap` items per group, a uniform sample: items of a big group are first thinned at
    random to about 2 x `cap` (cheap), then picked as `weighted_pick` does."""
    if group.size == 0:
        return np.zeros(0, dtype=np.int64)
    keep = np.flatnonzero(rng.random(group.size) < (2.0 * cap / np.maximum(per_group, 1))[group])
    return keep[weighted_pick(group[keep], np.ones(keep.size), cap, rng)]


def merge(chunks: list[Chunk], rng: np.random.Generator, *, samples_per_key: int = SAMPLES_PER_KEY,
          root_samples_per_key: int = ROOT_SAMPLES_PER_KEY) -> Chunk:
    """One chunk holding what `chunks` hold (same minute or not: `interval_ns` is the first one's).
    Samples are re-drawn in proportion to the spans each stands for, so they stay uniform."""
    found: dict[Key, int] = {}
    remaps = [np.fromiter((found.setdefault(k, len(found)) for k in c.keys), np.int32, len(c.keys)) for c in chunks]
    nk = len(found)
    # keys in one canonical order, so minutes of the same agents carry the same key list (parsed once by a reader)
    listed = list(found)
    order = sorted(range(nk), key=lambda i: tuple("" if v is None else str(v) for v in listed[i]))
    rank = np.empty(nk, np.int32)
    rank[order] = np.arange(nk, dtype=np.int32)
    remaps = [rank[m] for m in remaps]
    keys = {listed[i]: j for j, i in enumerate(order)}
    stats = np.zeros((nk, len(STATS)))
    stats[:, MIN], stats[:, MAX] = np.inf, -np.inf
    for c, m in zip(chunks, remaps):
        if not len(m):
            continue
        for col in (COUNT, ERRORS, SUM, IN_TOK, OUT_TOK, TOKEN_SPANS):
            np.add.at(stats[:, col], m, c.stats[:, col])
        np.minimum.at(stats[:, MIN], m, c.stats[:, MIN])
        np.maximum.at(stats[:, MAX], m, c.stats[:, MAX])

    def cat(name: str, remap: bool = False) -> np.ndarray:
        parts = [m[getattr(c, name)] if remap else getattr(c, name) for c, m in zip(chunks, remaps)]
        return np.concatenate(parts) if parts else np.zeros(0)

    bk, b, bc = cat("bin_key", True), cat("bin"), cat("bin_count")
    code = (bk.astype(np.int64) << 32) | (b.astype(np.int64) & 0xFFFFFFFF)
    uniq, inverse = np.unique(code, return_inverse=True)
    counts = np.bincount(inverse, weights=bc, minlength=uniq.size).astype(np.int64)
    sk, sm = cat("sample_key", True), cat("sample_ms")
    keep = weighted_pick(sk, sample_weights(chunks, "sample_key", COUNT), samples_per_key, rng)
    rk, rm, rt = cat("root_key", True), cat("root_ms"), join_ids([c.root_tid for c in chunks])
    keep_roots = weighted_pick(rk, sample_weights(chunks, "root_key", COUNT), root_samples_per_key, rng)
    lk, lm, lt = cat("slow_key", True), cat("slow_ms"), join_ids([c.slow_tid for c in chunks])
    slow = first_per_group(lk, (-lm,), SLOWEST_PER_KEY)
    errors: dict[tuple[int, str], list[Any]] = {}
    rollup: dict[tuple[int, str | None], list[Any]] = {}
    for c, m in zip(chunks, remaps):
        for k, etype, n, latest, trace in c.errors:
            cur = errors.setdefault((int(m[k]), etype), [int(m[k]), etype, 0, latest, trace])
            cur[2] += n
            if latest > cur[3]:
                cur[3], cur[4] = latest, trace
        for k, mdl, i, o in c.rollup:
            cur = rollup.setdefault((int(m[k]), mdl), [int(m[k]), mdl, 0, 0])
            cur[2] += i
            cur[3] += o
    with_spans = [c for c in chunks if c.spans]
    return Chunk(
        chunks[0].interval_ns if chunks else 0, list(keys), stats,
        (uniq >> 32).astype(np.int32), (uniq & 0xFFFFFFFF).astype(np.uint32).astype(np.int32), counts,
        sk[keep].astype(np.int32), sm[keep].astype(np.float64), rk[keep_roots].astype(np.int32), rm[keep_roots].astype(np.float64), rt[keep_roots],
        lk[slow].astype(np.int32), lm[slow].astype(np.float64), lt[slow],
        errors=list(errors.values()), rollup=list(rollup.values()), spans=sum(c.spans for c in chunks),
        min_start_ns=min((c.min_start_ns for c in with_spans), default=0), max_start_ns=max((c.max_start_ns for c in with_spans), default=0),
        max_end_ns=max((c.max_end_ns for c in with_spans), default=0),
    )


def sample_weights(chunks: list[Chunk], column: str, stat: int) -> np.ndarray:
    """Spans each sample of `column` stands for: its key's spans in its chunk over its key's samples
    there (or the chunk's own weights: `Chunk.sample_w`, `Chunk.root_w`)."""
    parts = []
    for c in chunks:
        k = getattr(c, column)
        own = c.sample_w if column == "sample_key" else c.root_w if column == "root_key" else None
        if own is not None:
            parts.append(np.asarray(own, np.float64))
            continue
        parts.append(c.stats[k, stat] / np.maximum(np.bincount(k, minlength=len(c.keys))[k], 1))
    return np.concatenate(parts) if parts else np.zeros(0)


def empty_chunk(interval_ns: int) -> Chunk:
    z32, zf, zs = np.zeros(0, np.int32), np.zeros(0), np.zeros(0, "S32")
    chunk = Chunk(interval_ns, [], np.zeros((0, len(STATS))), z32, z32, np.zeros(0, np.int64), z32, zf, z32, zf, zs, z32, zf, zs)
    chunk.columns = {"key": z32, "dur": zf, "err": np.zeros(0, np.int8), "etype": np.zeros(0, np.int16), "itok": zf, "otok": zf,
                     "start": np.zeros(0, np.int64), "tid_pos": z32, "tid": zs, "etypes": []}
    return chunk


class TokenRollup:
    """Streaming form of `analyzer.rollup.agent_rollup`: its state carries a subtree's tokens
    across batches until the agent span above them is written."""

    def __init__(self) -> None:
        self._pending: collections.OrderedDict[tuple[str, str], list[list[Any]]] = collections.OrderedDict()
        self._agents: collections.OrderedDict[tuple[str, str], tuple[int, Key, int]] = collections.OrderedDict()
        self._previous: dict[tuple[str, str], tuple[Any, ...]] = {}

    def __call__(self, rows: list[tuple[Any, ...]]) -> dict[int, list[tuple[Key, str | None, float, float, int]]]:
        """Tokens charged to the nearest ancestor agent span, as `agent_rollup` does on a whole
        window: walked within the batch, and across batches through subtotals that wait for a
        parent not yet written (children end, and are exported, before their parents)."""
        index = {(r[0], r[1]): r for r in rows}
        previous = self._previous
        credits: dict[int, list[tuple[Key, str | None, float, float, int]]] = collections.defaultdict(list)  # ..., agent span's start

        def key_of(r: tuple[Any, ...]) -> Key:
            return (r[3], r[5], r[6], r[12], r[2] is None)

        def route(r: tuple[Any, ...], model: str | None, i: float, o: float) -> None:
            for _ in range(256):
                if r[5] == KIND_AGENT:
                    credits[r[7] - r[7] % INTERVAL_NS].append((key_of(r), model, i, o, r[7]))
                    return
                parent = r[2]
                if parent is None:
                    return
                nxt = index.get((r[0], parent)) or previous.get((r[0], parent))  # a parent written first, one flush earlier
                if nxt is None:
                    known = self._agents.get((r[0], parent))
                    if known is not None:  # the agent was written in an earlier batch
                        credits[known[0]].append((known[1], model, i, o, known[2]))
                    else:
                        self._pending.setdefault((r[0], parent), []).append([model, i, o])
                        while len(self._pending) > PENDING_LIMIT:
                            self._pending.popitem(last=False)
                    return
                r = nxt

        for r in rows:
            if r[14] is not None or r[15] is not None:
                route(r, r[12], r[14] or 0, r[15] or 0)
        if self._pending:
            for r in rows:
                waiting = self._pending.pop((r[0], r[1]), None)
                for model, i, o in waiting or ():
                    route(r, model, i, o)
        for r in rows:
            if r[5] == KIND_AGENT:
                self._agents[(r[0], r[1])] = (r[7] - r[7] % INTERVAL_NS, key_of(r), r[7])
        while len(self._agents) > AGENTS_KNOWN:
            self._agents.popitem(last=False)
        self._previous = index
        return credits



class Summarizer:
    """The store's writer side. Span rows are buffered as they are written and summarised in one
    go every FLUSH_SPANS rows or FLUSH_S seconds (numpy work per batch is then amortised over
    thousands of spans), in the transaction of the write that triggers it. Which rowids of
    `spans` the summaries cover is recorded in `summary_coverage`, so a reader reads the rest —
    the last second's spans, or those of a writer that died with a full buffer — raw."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._rng = np.random.default_rng()
        self._rollup = TokenRollup()
        self._latest_interval = -1
        self._rows: list[tuple[Any, ...]] = []
        self._ranges: list[list[int]] = []   # rowid ranges of the buffered rows
        self._since = 0.0
        from agent_otel.localstore import edge_columns, block_summaries  # they build on this module

        conn.executescript(SCHEMA + edge_columns.SCHEMA + block_summaries.SCHEMA)

    def add(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        """`rows` were just inserted (same transaction, one executemany: consecutive rowids)."""
        last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        first = last - len(rows) + 1
        if self._ranges and self._ranges[-1][1] == first - 1:
            self._ranges[-1][1] = last
        else:
            self._ranges.append([first, last])
        if not self._rows:
            self._since = time.monotonic()
        self._rows.extend(rows)
        if len(self._rows) >= FLUSH_SPANS or time.monotonic() - self._since >= FLUSH_S:
            self.flush(conn)

    def drop_buffer(self) -> None:
        self._rows, self._ranges = [], []

    def flush(self, conn: sqlite3.Connection, *, compact_past: bool = False) -> None:
        """Summarise the buffered rows (inside the caller's transaction); `compact_past`: then
        merge the chunks of every minute before the current one (a writer closing)."""
        if compact_past:
            self.flush(conn)
            now = time.time_ns()
            compact(conn, before_ns=now - now % INTERVAL_NS, rng=self._rng)
            from agent_otel.localstore import block_summaries

            block_summaries.build(conn, before_ns=now, rng=self._rng)
            return
        if not self._rows:
            return
        rows, ranges = self._rows, self._ranges
        self._rows, self._ranges = [], []
        self.write(conn, rows)
        for lo, hi in ranges:
            cover(conn, lo, hi)

    def write(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        """Summarise `rows` into chunk rows."""
        chunks = summarise(rows, self._rng, self._rollup)
        conn.executemany(
            "INSERT INTO span_summaries (interval_ns, compacted, spans, min_start_ns, max_start_ns, max_end_ns, figures) VALUES (?, 0, ?, ?, ?, ?, ?)",
            [(iv, c.spans, c.min_start_ns, c.max_start_ns, c.max_end_ns, c.encode()) for iv, c in chunks.items()],
        )
        from agent_otel.localstore import edge_columns

        edge_columns.write(conn, chunks)
        newest = max(chunks)
        if newest > self._latest_interval:
            if self._latest_interval >= 0:
                compact(conn, before_ns=newest, rng=self._rng)
                if newest // BLOCK_NS > self._latest_interval // BLOCK_NS:  # the data moved past 10 minutes (or an hour): their block rows
                    from agent_otel.localstore import block_summaries

                    block_summaries.build(conn, before_ns=newest, rng=self._rng)
            self._latest_interval = newest

def cover(conn: sqlite3.Connection, lo: int, hi: int) -> None:
    """Record rowids [lo, hi] as summarised, joined with the ranges it touches (writers that
    interleave their batches leave one range, not one per batch)."""
    before = conn.execute("SELECT rowid, lo FROM summary_coverage WHERE hi = ?", (lo - 1,)).fetchone()
    after = conn.execute("SELECT rowid, hi FROM summary_coverage WHERE lo = ?", (hi + 1,)).fetchone()
    for found in (before, after):
        if found is not None:
            conn.execute("DELETE FROM summary_coverage WHERE rowid = ?", (found[0],))
    conn.execute("INSERT INTO summary_coverage (lo, hi) VALUES (?, ?)", (before[1] if before else lo, after[1] if after else hi))


def summarise(rows: list[tuple[Any, ...]], rng: np.random.Generator, rollup: TokenRollup) -> dict[int, Chunk]:
    """Chunks of span rows, with the tokens each agent span's subtree spent."""
    chunks = build_chunks(rows, rng)
    for iv, keys_credits in rollup(rows).items():
        chunk = chunks.get(iv)
        if chunk is None:
            chunk = chunks[iv] = empty_chunk(iv)
        index = {k: i for i, k in enumerate(chunk.keys)}
        summed: dict[tuple[int, str | None], list[Any]] = {}
        per_agent = []  # per agent span, with its start (edge_columns: a window cutting the minute)
        for key, mdl, i, o, at in keys_credits:
            if key not in index:  # an agent seen in an earlier batch: its key joins with zero figures
                index[key] = len(chunk.keys)
                chunk.keys.append(key)
                chunk.stats = np.vstack([chunk.stats, [0, 0, 0, np.inf, -np.inf, 0, 0, 0]])
            cur = summed.setdefault((index[key], mdl), [index[key], mdl, 0, 0])
            cur[2] += i
            cur[3] += o
            per_agent.append((index[key], mdl, i, o, at))
        chunk.rollup.extend(summed.values())
        if chunk.columns is not None:
            chunk.columns["credits"] = per_agent
    return chunks


def compact(conn: sqlite3.Connection, *, before_ns: int, rng: np.random.Generator) -> int:
    """Merge the chunks of each minute before `before_ns` that has more than one row, or an
    uncompacted one, into a single row. Returns how many minutes were merged."""
    minutes = [iv for (iv,) in conn.execute(
        "SELECT interval_ns FROM span_summaries WHERE interval_ns < ? GROUP BY interval_ns HAVING COUNT(*) > 1 OR MIN(compacted) = 0",
        (before_ns,))]
    for iv in minutes:
        rows = conn.execute("SELECT rowid, spans, min_start_ns, max_start_ns, max_end_ns, figures FROM span_summaries WHERE interval_ns = ?", (iv,)).fetchall()
        merged = merge([Chunk.decode(f, iv, s, a, b, e) for _, s, a, b, e, f in rows], rng)
        conn.executemany("DELETE FROM span_summaries WHERE rowid = ?", [(r[0],) for r in rows])
        conn.execute("INSERT INTO span_summaries (interval_ns, compacted, spans, min_start_ns, max_start_ns, max_end_ns, figures) VALUES (?, 1, ?, ?, ?, ?, ?)",
                     (iv, merged.spans, merged.min_start_ns, merged.max_start_ns, merged.max_end_ns, merged.encode()))
    return len(minutes)


def prune(conn: sqlite3.Connection, cutoff_ns: int) -> None:
    """Summaries of minutes that ended before `cutoff_ns` go with their spans; coverage of
    rowids no longer in `spans` goes too (all of it when `spans` is empty: rowids restart)."""
    try:
        conn.execute("DELETE FROM span_summaries WHERE interval_ns + ? <= ?", (INTERVAL_NS, cutoff_ns))
    except sqlite3.OperationalError:  # a store that never kept summaries
        return
    from agent_otel.localstore import edge_columns, block_summaries

    edge_columns.prune(conn, cutoff_ns)
    block_summaries.prune(conn, cutoff_ns)
    (oldest,) = conn.execute("SELECT MIN(rowid) FROM spans").fetchone()
    if oldest is None:
        conn.execute("DELETE FROM summary_coverage")
    else:
        conn.execute("DELETE FROM summary_coverage WHERE hi < ?", (oldest,))


def dense(group: np.ndarray, bins: np.ndarray, counts: np.ndarray, n_groups: int) -> tuple[np.ndarray, int]:
    """The merged sketch of each group as a dense (n_groups, width) matrix of counts per sketch key,
    and the key of column 0: one bincount over the entries, whatever number of rows they came from."""
    if group.size == 0:
        return np.zeros((n_groups, 0)), 0
    bmin = int(bins.min())
    width = int(bins.max()) - bmin + 1
    flat = group.astype(np.int64) * width + (bins - bmin)
    return np.bincount(flat, weights=counts, minlength=n_groups * width).reshape(n_groups, width), bmin


def quantiles(group: np.ndarray, bins: np.ndarray, counts: np.ndarray, n_groups: int, qs: tuple[float, ...],
              lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(n_groups, len(qs)) percentiles as numpy's default (linear between order statistics) would
    give them, each order statistic read off the merged sketch (so within RELATIVE_ACCURACY),
    clamped to the exact min `lo` and max `hi` of each group. NaN for an empty group."""
    return dense_quantiles(*dense(group, bins, counts, n_groups), qs, lo, hi)


def dense_quantiles(matrix: np.ndarray, bmin: int, qs: tuple[float, ...], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """`quantiles` of sketches given as `dense` gives them."""
    out = np.full((matrix.shape[0], len(qs)), np.nan)
    if matrix.size == 0:
        return out
    cum = np.cumsum(matrix, axis=1)
    total = cum[:, -1]
    values = value_of(np.arange(matrix.shape[1]) + bmin)
    ok = total > 0
    for j, q in enumerate(qs):
        rank = q * (total - 1)
        lo_r, hi_r, frac = np.floor(rank), np.ceil(rank), rank - np.floor(rank)
        v_lo = values[np.argmax(cum > lo_r[:, None], axis=1)]
        v_hi = values[np.argmax(cum > hi_r[:, None], axis=1)]
        v = np.clip(v_lo + frac * (v_hi - v_lo), lo, hi)
        out[ok, j] = v[ok]
    return out
