"""The spans of each summarised chunk as compact columns, so a window whose edge cuts a minute is
answered without reading that minute's raw spans.

A minute's summary (localstore.summaries) cannot be split: a window starting at 10:04:37 needs
the spans of 10:04 from :37 on. Reading them raw costs a SQL scan and a Python tuple per span
(about 1 s for the 150k spans of a busy half minute). Here every chunk the summariser writes is
also stored as numpy columns — key index, start, duration, error flag and type, tokens, the trace
ids of roots and failing spans (~40 bytes a span) and the token credits of each agent span with
its start — in a table of its own, so reading a window's inner minutes never touches them. The
cut minute's columns are filtered to the window and summarised with the writer's own code
(`summaries.chunk_of_arrays`): counts, tokens and cost stay exact, percentiles come from a
sketch of exactly the spans inside the window.

A minute whose columns do not hold all its summarised spans (a store written before this table
existed) is read raw, as before.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from typing import Any

import numpy as np

from agent_otel.localstore import summaries as sm

SCHEMA = """
CREATE TABLE IF NOT EXISTS span_columns (interval_ns INTEGER NOT NULL, spans INTEGER NOT NULL, figures BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS span_columns_interval ON span_columns(interval_ns);
"""

SPAN_ARRAYS = ("key", "dur", "err", "etype", "itok", "otok", "start", "tid_pos", "tid")
CREDIT_ARRAYS = ("c_key", "c_model", "c_in", "c_out", "c_start")


def encode(chunk: sm.Chunk) -> bytes:
    cols = chunk.columns or {}
    credits = cols.get("credits") or []
    models: dict[str | None, int] = {}
    arrays = [np.ascontiguousarray(cols[n]) for n in SPAN_ARRAYS] + [
        np.array([c[0] for c in credits], np.int32),
        np.array([models.setdefault(c[1], len(models)) for c in credits], np.int16),
        np.array([c[2] for c in credits], np.float64),
        np.array([c[3] for c in credits], np.float64),
        np.array([c[4] for c in credits], np.int64),
    ]
    header = json.dumps({"keys": chunk.keys, "etypes": cols.get("etypes", []), "models": list(models),
                         "arrays": [[a.dtype.str, a.shape[0]] for a in arrays]}, separators=(",", ":")).encode()
    return struct.pack("<I", len(header)) + header + b"".join(a.tobytes() for a in arrays)


def decode(blob: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    (n,) = struct.unpack_from("<I", blob)
    head = json.loads(blob[4 : 4 + n])
    offset, arrays = 4 + n, {}
    for name, (dtype, length) in zip(SPAN_ARRAYS + CREDIT_ARRAYS, head["arrays"]):
        dt = np.dtype(dtype)
        arrays[name] = np.frombuffer(blob, dt, length, offset)
        offset += length * dt.itemsize
    return head, arrays


def write(conn: sqlite3.Connection, chunks: dict[int, sm.Chunk]) -> None:
    """Columns of the chunks just summarised (same transaction as their summary rows)."""
    conn.executemany("INSERT INTO span_columns (interval_ns, spans, figures) VALUES (?, ?, ?)",
                     [(iv, c.spans, encode(c)) for iv, c in chunks.items() if c.columns is not None])


def prune(conn: sqlite3.Connection, cutoff_ns: int) -> None:
    try:
        conn.execute("DELETE FROM span_columns WHERE interval_ns + ? <= ?", (sm.INTERVAL_NS, cutoff_ns))
    except sqlite3.OperationalError:  # a store that never kept them
        pass


def edge_chunk(conn: sqlite3.Connection, interval_ns: int, lo: int, hi: int, summarised: int, rng: np.random.Generator) -> sm.Chunk | None:
    """The summary of the spans of minute `interval_ns` starting in [lo, hi), from its columns;
    None when the columns do not hold all `summarised` spans of the minute (read it raw then)."""
    try:
        rows = conn.execute("SELECT spans, figures FROM span_columns WHERE interval_ns = ?", (interval_ns,)).fetchall()
    except sqlite3.OperationalError:  # a store written before the columns existed
        return None
    if sum(r[0] for r in rows) != summarised:
        return None
    keys: dict[tuple, int] = {}
    etypes: dict[str, int] = {}
    parts: dict[str, list[np.ndarray]] = {n: [] for n in ("key", "dur", "err", "etype", "itok", "otok", "start", "tid_pos", "tid")}
    rollup: dict[tuple[int, str | None], list[Any]] = {}
    offset = 0
    for _, blob in rows:
        head, a = decode(blob)
        key_map = np.fromiter((keys.setdefault(tuple(k), len(keys)) for k in head["keys"]), np.int32, len(head["keys"]))
        type_map = np.array([etypes.setdefault(t, len(etypes)) for t in head["etypes"]] + [-1], np.int16)  # code -1 stays -1
        inside = (a["start"] >= lo) & (a["start"] < hi)
        new_pos = np.cumsum(inside) - 1 + offset
        parts["key"].append(key_map[a["key"][inside]])
        for name in ("dur", "err", "itok", "otok", "start"):
            parts[name].append(a[name][inside])
        parts["etype"].append(type_map[a["etype"][inside]])
        tp = a["tid_pos"]
        kept = inside[tp] if tp.size else np.zeros(0, bool)
        parts["tid_pos"].append(new_pos[tp[kept]])
        parts["tid"].append(a["tid"][kept])
        offset += int(inside.sum())
        credit_in = (a["c_start"] >= lo) & (a["c_start"] < hi)
        for k, m, i, o in zip(a["c_key"][credit_in].tolist(), a["c_model"][credit_in].tolist(), a["c_in"][credit_in].tolist(), a["c_out"][credit_in].tolist()):
            row = int(key_map[k])
            cur = rollup.setdefault((row, head["models"][m]), [row, head["models"][m], 0, 0])
            cur[2] += i
            cur[3] += o
    cat = {n: np.concatenate(p) if p else np.zeros(0) for n, p in parts.items()}
    if offset == 0 and not rollup:
        return sm.empty_chunk(interval_ns)
    chunk = sm.chunk_of_arrays(interval_ns, list(keys), cat["key"].astype(np.int32), cat["dur"].astype(np.float64), cat["err"].astype(np.float64),
                               cat["itok"].astype(np.float64), cat["otok"].astype(np.float64), cat["start"].astype(np.int64),
                               int((cat["start"] + cat["dur"] * 1e6).max()) if offset else 0,
                               cat["tid_pos"].astype(np.int64), cat["tid"].astype("S32"), cat["etype"].astype(np.int16), list(etypes), rng)
    chunk.rollup = list(rollup.values())
    return chunk
