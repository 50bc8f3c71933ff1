"""The report of a large local-store window, from the per-minute summaries instead of raw spans.

Same figures and schema as `report.build_report`: counts, errors, tokens and cost are exact sums;
percentiles come from the merged DDSketches (within 0.5 % of numpy's on the raw durations — the
order statistics are read off the sketch, then interpolated as numpy does); max/mean exact.
Raw spans are read only for the traces the report explains (the 5 slowest, 200 sampled for the
critical path, the latest failing trace of each top error) and for minutes the window cuts.

The baseline test needs raw latencies: it runs Mann-Whitney U on up to 5,000 raw durations per
side as before, drawn here as a uniform sample of the window (each minute keeps 64 raw durations
per key, drawn uniformly, and each hour or 10-minute block row up to 5,000 per kind and name; they
are picked in proportion to the spans each stands for); the p95 change is the sketch's p95
against the baseline's.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np

from agent_otel.analyzer import report as raw
from agent_otel.analyzer import stats
from agent_otel.analyzer.pricing import load_prices, price_for, price_source
from agent_otel.analyzer.sources.base import SourceError, SpanFrame
from agent_otel.analyzer.sources.summaries import WindowSummary
from agent_otel.localstore.summaries import COUNT, ERRORS, IN_TOK, MAX, MIN, OUT_TOK, SUM, TOKEN_SPANS, dense, dense_quantiles, id_text, quantiles, value_of

SUMMARY_SPANS = 5_000  # windows holding more spans than this are reported from summaries ("auto")
QS = tuple(p / 100 for p in stats.PERCENTILES)


def applies(source: Any, start_ns: int, end_ns: int, service: str | None, mode: str = "auto") -> bool:
    """Whether `build_report` should read summaries: a local store that keeps them, and a big
    window (or asked to). A store written before summaries existed is read raw."""
    if mode not in ("auto", "always", "never"):
        raise ValueError(f"summaries={mode!r}: expected auto, always or never")
    if mode == "never" or not hasattr(source, "summarised_spans"):  # only the local source keeps summaries
        return False
    count = source.summarised_spans(start_ns, end_ns)  # None: an older store without summaries
    return count is not None and (mode == "always" or count > SUMMARY_SPANS)


def _by(group: np.ndarray, n: int, values: np.ndarray) -> np.ndarray:
    return np.bincount(group, weights=values, minlength=n) if group.size else np.zeros(n)


def _extreme(group: np.ndarray, n: int, values: np.ndarray, fn: np.ufunc, init: float) -> np.ndarray:
    out = np.full(n, init)
    fn.at(out, group, values)
    return out


def _pick(group_of_item: np.ndarray, weight: np.ndarray, cap: int, rng: np.random.Generator, prefix: int = raw.BASELINE_SAMPLES) -> dict[int, np.ndarray]:
    """Items per group, at most `cap`, a uniform sample of the spans behind them: the `cap` largest
    Efraimidis-Spirakis keys (log(u) / weight) of each group, found by partition, not by a sort of
    every item (the samples of 10M spans are ~250k). The first `prefix` items of a group are its
    `prefix` largest keys, a uniform sample themselves (the report writes that many)."""
    if group_of_item.size == 0:
        return {}
    key = np.log(rng.random(group_of_item.size)) / np.maximum(weight, 1e-12)
    small = group_of_item.astype(np.int16) if int(group_of_item.max()) < 2**15 else group_of_item
    order = np.argsort(small, kind="stable")  # a radix sort for 16-bit group ids
    g, key = group_of_item[order], key[order]
    cuts = np.flatnonzero(np.r_[True, g[1:] != g[:-1], True])
    out: dict[int, np.ndarray] = {}
    for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
        idx, k = order[a:b], key[a:b]
        if idx.size > cap:
            top = np.argpartition(k, idx.size - cap)[idx.size - cap :]
            idx, k = idx[top], k[top]
        if idx.size > prefix:
            head = np.zeros(idx.size, bool)
            head[np.argpartition(k, idx.size - prefix)[idx.size - prefix :]] = True
            idx = np.concatenate([idx[head], idx[~head]])
        out[int(g[a])] = idx
    return out


def _cost(st: np.ndarray, price: np.ndarray) -> np.ndarray:
    """USD of each row of figures `st` at its key's (input, output) price per million tokens."""
    return np.where(st[:, TOKEN_SPANS] > 0, (st[:, IN_TOK] * price[:, 0] + st[:, OUT_TOK] * price[:, 1]) / 1e6, 0.0)


def _latency(q: np.ndarray, total: float, count: float, mx: float) -> dict[str, float]:
    if count <= 0:
        return {f"p{p}": 0.0 for p in stats.PERCENTILES} | {"mean": 0.0, "max": 0.0}
    out = {f"p{p}": round(float(v), 3) for p, v in zip(stats.PERCENTILES, q)}
    out["mean"] = round(total / count, 3)
    out["max"] = round(float(mx), 3)
    return out


_STEPS = {24: np.arange(25) / 24}


def names_of(gkeys: dict[tuple[str, str], int]) -> list[tuple[str, str]]:
    return list(gkeys)


def _histograms(matrix: np.ndarray, bmin: int, ng: int, lo: np.ndarray, hi: np.ndarray,
                baseline: raw.Baseline | None, names: list[tuple[str, str]], n_bins: int = 24) -> list[dict[str, Any] | None]:
    """`report.latency_histogram` of every group from its merged sketch (`matrix`, as
    `summaries.dense` gives it): each sketch bin's count goes to the report bin holding its value
    (sketch bins are 1 % wide), in one pass over the (groups x sketch bins) matrix."""
    total = matrix.sum(axis=1) if matrix.size else np.zeros(ng)
    low, high = lo.copy(), hi.copy()
    bases: list[np.ndarray | None] = []
    for g in range(ng):
        base = baseline.samples.get(names[g]) if baseline is not None else None
        pos = base[base > 0] if base is not None and base.size else np.zeros(0)
        bases.append(base if pos.size else None)
        if pos.size:
            low[g], high[g] = min(low[g], pos.min()), max(high[g], pos.max())
    low = np.maximum(low, 1e-9)
    a, b = np.log10(low), np.log10(np.maximum(high, 1e-9))
    flat = b - a < 1e-6
    a, b = np.where(flat, a - 0.05, a), np.where(flat, b + 0.05, b)
    edges = 10.0 ** (a[:, None] + (b - a)[:, None] * _STEPS[n_bins][None, :])
    edges[:, 0], edges[:, -1] = np.minimum(edges[:, 0], low), np.maximum(edges[:, -1], high)
    if matrix.size:
        values = value_of(np.arange(matrix.shape[1]) + bmin)
        with np.errstate(invalid="ignore"):  # empty groups: inf bounds
            v = np.clip(values[None, :], lo[:, None], hi[:, None])
            idx = np.floor((np.log10(np.maximum(v, 1e-12)) - a[:, None]) / (b - a)[:, None] * n_bins)
        idx = np.clip(np.nan_to_num(idx), 0, n_bins - 1).astype(np.int64)
        current = np.bincount((np.arange(ng)[:, None] * n_bins + idx).ravel(), weights=matrix.ravel(), minlength=ng * n_bins).reshape(ng, n_bins)
    else:
        current = np.zeros((ng, n_bins))
    out: list[dict[str, Any] | None] = []
    for g in range(ng):
        if total[g] < 2 or hi[g] <= 0:
            out.append(None)
            continue
        h = {"edges_ms": np.round(edges[g], 4).tolist(), "counts": np.rint(current[g]).astype(int).tolist(), "baseline_counts": None}
        if bases[g] is not None:
            h["baseline_counts"] = np.histogram(bases[g], bins=edges[g])[0].tolist()
        out.append(h)
    return out


def build_summary_report(source: Any, start_ns: int, end_ns: int, *, service: str | None = None, baseline: raw.Baseline | None = None,
                         prices: dict[str, tuple[float, float]] | None = None, thresholds: stats.Thresholds = stats.Thresholds(),
                         progress: raw.Progress = lambda _m: None) -> raw.Report:
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    if service and service not in source.services():
        raise SourceError(f"unknown service {service!r}; {source.name} knows: {', '.join(source.services()) or 'none'}")
    progress(f"reading summaries from {source.name}")
    w = source.summaries(start_ns, end_ns, service, rng)
    if w is None or len(w) == 0:
        raise SourceError(f"no spans in the window ({source.name}{', service ' + service if service else ''})")
    table = prices if prices is not None else load_prices(None)
    keys = w.keys
    st = w.stats
    window_s = max((end_ns - start_ns) / 1e9, 1e-9)
    data_start, data_end = w.data_start_ns, w.data_end_ns
    data_s = max((data_end - data_start) / 1e9, 1e-3)

    # cost per row: its key's model at the table's price
    models = [k[3] for k in keys]
    price = [price_for(m, table) if m else None for m in models]
    key_price = np.array([[p[0], p[1]] if p else [0.0, 0.0] for p in price]).reshape(-1, 2)
    row_unpriced = np.array([bool(m) and p is None for m, p in zip(models, price)], dtype=bool)[w.key_of] if keys else np.zeros(0, bool)
    has_tok = st[:, TOKEN_SPANS] > 0
    row_cost = _cost(st, key_price[w.key_of])
    row_unpriced_tok = np.where(has_tok & row_unpriced, st[:, IN_TOK] + st[:, OUT_TOK], 0.0)
    unpriced = sorted({str(models[k]) for k, r in zip(w.key_of, row_unpriced & has_tok) if r})

    # roll-up of tokens to agent rows
    rolled = np.zeros((st.shape[0], 4))
    if w.rollup:
        model_price = {m: price_for(m, table) if m else None for m in {r[1] for r in w.rollup}}
        r_row = np.fromiter((r[0] for r in w.rollup), np.int64, len(w.rollup))
        r_in = np.fromiter((r[2] for r in w.rollup), np.float64, len(w.rollup))
        r_out = np.fromiter((r[3] for r in w.rollup), np.float64, len(w.rollup))
        p_in, p_out = (np.fromiter(((model_price[r[1]] or (0.0, 0.0))[j] for r in w.rollup), np.float64, len(w.rollup)) for j in (0, 1))
        unp = np.fromiter((bool(r[1]) and model_price[r[1]] is None for r in w.rollup), bool, len(w.rollup))
        np.add.at(rolled, r_row, np.column_stack([r_in, r_out, (r_in * p_in + r_out * p_out) / 1e6, np.where(unp, r_in + r_out, 0.0)]))

    # groups: (kind, target)
    gkeys: dict[tuple[str, str], int] = {}
    key_group = np.fromiter((gkeys.setdefault((k[1], k[2]), len(gkeys)) for k in keys), np.int64, len(keys))
    row_group = key_group[w.key_of]
    ng = len(gkeys)
    cnt, errs, total = (_by(row_group, ng, st[:, c]) for c in (COUNT, ERRORS, SUM))
    mins = _extreme(row_group, ng, st[:, MIN], np.minimum, np.inf)
    maxs = _extreme(row_group, ng, st[:, MAX], np.maximum, -np.inf)
    progress("merging sketches")
    matrix, bmin = dense(row_group[w.bin_row], w.bin, w.bin_count, ng)
    q = dense_quantiles(matrix, bmin, QS, mins, maxs) if ng else np.zeros((0, len(QS)))
    samples = _pick(row_group[w.sample_row], w.sample_weight, max(raw.BASELINE_SAMPLES, stats.MAX_TEST_SAMPLES), rng)
    g_in, g_out, g_cost, g_unp, g_tokspans = (_by(row_group, ng, v) for v in (st[:, IN_TOK], st[:, OUT_TOK], row_cost, row_unpriced_tok, st[:, TOKEN_SPANS]))
    g_rolled = np.column_stack([_by(row_group, ng, rolled[:, j]) for j in range(4)]) if ng else np.zeros((0, 4))
    groups = []
    names = list(gkeys)
    hists = _histograms(matrix, bmin, ng, mins, maxs, baseline, names_of(gkeys))
    for g in sorted(range(ng), key=lambda g: -total[g]):
        kind, name = names[g]
        n = int(cnt[g])
        if n == 0:
            continue
        e = int(round(errs[g]))
        picked = w.sample_ms[samples.get(g, np.zeros(0, np.int64))]
        if kind == "agent" and (g_rolled[g, 0] or g_rolled[g, 1]):
            tokens = raw.token_figures(*g_rolled[g], "rolled_up")
        elif g_tokspans[g] > 0:
            tokens = raw.token_figures(g_in[g], g_out[g], g_cost[g], g_unp[g], "own")
        else:
            tokens = raw.token_figures(0, 0, 0, 0, None)
        base = baseline.samples.get((kind, name)) if baseline is not None else None
        item: dict[str, Any] = {
            "kind": kind, "name": name, "count": n, "throughput_per_s": round(n / data_s, 4), "errors": e, "error_rate": round(e / n, 4),
            "latency_ms": _latency(q[g], total[g], n, maxs[g]), "total_ms": round(float(total[g]), 3), **tokens,
            "histogram": hists[g],
            "latency_samples_ms": np.round(picked[: raw.BASELINE_SAMPLES], 3).tolist(),
        }
        if baseline is not None:
            item["baseline"] = stats.compare_latency(picked, base if base is not None else np.array([]), thresholds, current_p95=float(q[g][QS.index(0.95)]))
            if (kind, name) in baseline.error_rates:
                item["baseline"]["error_rate_change_points"] = round((item["error_rate"] - baseline.error_rates[(kind, name)]) * 100, 2)
        groups.append(item)

    progress("critical paths of the slowest and sampled traces")
    bottlenecks, slowest = _bottlenecks(source, w, keys, rng, progress)
    errors = _errors(source, w, keys, start_ns, end_ns)
    traces = raw.trace_views(source, [t["trace_id"] for t in slowest] + [e["trace_id"] for e in errors])
    res = source.resources(start_ns, end_ns, service)
    resources: dict[str, Any] = {"cpu_utilization": res.cpu_utilization, "memory_rss_bytes": res.memory_rss_bytes, "gpu_utilization": res.gpu_utilization,
                                 "gpu_memory_bytes": res.gpu_memory_bytes, "inference": res.extra}
    if baseline is not None:
        resources["baseline"] = {
            "cpu_utilization": stats.compare_level(res.cpu_utilization, baseline.resources.get("cpu_utilization"), thresholds.resource_pct),
            "memory_rss_bytes": stats.compare_level(res.memory_rss_bytes, baseline.resources.get("memory_rss_bytes"), thresholds.resource_pct),
        }
    key_is_root = np.array([bool(k[4]) for k in keys], dtype=bool)
    is_root = key_is_root[w.key_of] if keys else np.zeros(0, bool)
    root_entry = np.flatnonzero(is_root[w.bin_row])  # sketch entries of root spans: services' and the timeseries' trace latency
    root_bins = (w.bin_row[root_entry], w.bin[root_entry], w.bin_count[root_entry])
    total_spans = int(st[:, COUNT].sum())
    total_errors = int(round(st[:, ERRORS].sum()))
    total_cost = float(row_cost.sum())
    data = {
        "schema": raw.SCHEMA, "version": raw.SCHEMA_VERSION, "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": source.name, "service": service,
        "window": {"start_ns": start_ns, "end_ns": end_ns, "seconds": round(window_s, 3),
                   "data_start_ns": data_start, "data_end_ns": data_end, "data_seconds": round(data_s, 3)},
        "baseline_label": baseline.label if baseline else None,
        "totals": {
            "spans": total_spans, "traces": int(st[is_root, COUNT].sum()), "errors": total_errors,
            "error_rate": round(total_errors / total_spans, 4) if total_spans else 0.0,
            "input_tokens": int(st[:, IN_TOK].sum()), "output_tokens": int(st[:, OUT_TOK].sum()), "cost_usd": round(total_cost, 6),
            "unpriced_models": unpriced, "unpriced_tokens": int(row_unpriced_tok.sum()), "price_source": price_source(table),
        },
        "services": _services(w, keys, is_root, row_cost, row_unpriced_tok, data_s, root_bins),
        "groups": groups, "bottlenecks": bottlenecks, "slowest_traces": slowest, "errors": errors, "resources": resources,
        "timeseries": _timeseries(w, key_is_root, key_price, data_start, data_end),
        "traces": traces,
        "recommendations": raw.recommend(groups, bottlenecks, total_cost),
        "figures_from": {"summaries": w.summary_rows, "raw_spans": w.raw_spans},
        "analysis_seconds": None,
    }
    from agent_otel.analyzer import conversations, evaluations

    evaluations.attach(data, *evaluations.summary(source, start_ns, end_ns, service), baseline, source, service)
    # the window's latest conversations, each whole, found through the store's conversation_traces index (no span scan)
    data["conversations"] = conversations.section(source, start_ns, end_ns, service, table, recent=200)
    data["analysis_seconds"] = round(time.perf_counter() - t0, 3)
    return raw.Report.from_dict(data)


def _services(w: WindowSummary, keys: list[tuple], is_root: np.ndarray, row_cost: np.ndarray, row_unp: np.ndarray, window_s: float,
              root_bins: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[dict[str, Any]]:
    skeys: dict[str, int] = {}
    key_svc = np.fromiter((skeys.setdefault(str(k[0]), len(skeys)) for k in keys), np.int64, len(keys))
    row_svc = key_svc[w.key_of]
    ns = len(skeys)
    st = w.stats
    spans, errs, tin, tout, cost, unp = (_by(row_svc, ns, v) for v in (st[:, COUNT], st[:, ERRORS], st[:, IN_TOK], st[:, OUT_TOK], row_cost, row_unp))
    root_rows = np.flatnonzero(is_root)
    rsvc = row_svc[root_rows]
    traces, rsum = _by(rsvc, ns, st[root_rows, COUNT]), _by(rsvc, ns, st[root_rows, SUM])
    rmin = _extreme(rsvc, ns, st[root_rows, MIN], np.minimum, np.inf)
    rmax = _extreme(rsvc, ns, st[root_rows, MAX], np.maximum, -np.inf)
    q = quantiles(row_svc[root_bins[0]], root_bins[1], root_bins[2], ns, QS, rmin, rmax)
    out = []
    for name, s in sorted(skeys.items()):
        out.append({
            "service": name, "spans": int(spans[s]), "traces": int(traces[s]), "traces_per_s": round(float(traces[s]) / window_s, 4),
            "errors": int(round(errs[s])), "error_rate": round(float(errs[s] / spans[s]), 4) if spans[s] else 0.0,
            "trace_latency_ms": _latency(q[s], rsum[s], traces[s], rmax[s]),
            "input_tokens": int(tin[s]), "output_tokens": int(tout[s]), "cost_usd": round(float(cost[s]), 6), "unpriced_tokens": int(unp[s]),
        })
    return out


def _bottlenecks(source: Any, w: WindowSummary, keys: list[tuple], rng: np.random.Generator, progress: raw.Progress) -> tuple[list, list]:
    """The raw builder's critical-path step on the slowest roots and a uniform sample of the rest
    (as a small frame: `report._bottlenecks` takes the 5 slowest and samples 200 of the rest)."""
    chosen: dict[str, tuple[float, int]] = {}
    for i in np.argsort(-w.slow_ms)[: raw.SLOWEST_TRACES]:
        chosen[id_text(w.slow_tid[i])] = (float(w.slow_ms[i]), int(w.slow_row[i]))
    k = raw.PATH_SAMPLE + raw.SLOWEST_TRACES
    if w.root_row.size > k:  # weighted sample without replacement (Efraimidis-Spirakis keys), top k by partition, not a full sort
        prio = np.log(rng.random(w.root_row.size)) / np.maximum(w.root_weight, 1e-12)
        picked = np.argpartition(-prio, k)[:k]
    else:
        picked = np.arange(w.root_row.size)
    for i in picked:
        chosen.setdefault(id_text(w.root_tid[i]), (float(w.root_ms[i]), int(w.root_row[i])))
    if not chosen:
        return [], []
    rows = []
    for tid, (ms, row) in chosen.items():
        key = keys[w.key_of[row]]
        rows.append((key[1], key[2], key[0], 0, ms, False, None, key[3], None, None, tid, None))
    ranking, slowest, _ = raw.explain_bottlenecks(source, SpanFrame.from_rows(rows), progress)
    return ranking, slowest


def _errors(source: Any, w: WindowSummary, keys: list[tuple], start_ns: int, end_ns: int) -> list[dict[str, Any]]:
    agg: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, -1, None])
    for row, etype, n, latest, trace in w.errors:
        key = keys[w.key_of[row]]
        cur = agg[(key[1], key[2], etype or "error")]
        cur[0] += n
        if latest > cur[1]:
            cur[1], cur[2] = latest, trace
    top = sorted(agg.items(), key=lambda kv: -kv[1][0])[:10]
    logs = source.error_logs([v[2] for _, v in top], start_ns, end_ns)
    return [{"kind": k, "name": n, "error_type": e, "count": v[0], "trace_id": v[2], "log_excerpt": (logs.get(v[2]) or "")[:300] or None}
            for (k, n, e), v in top]


def _timeseries(w: WindowSummary, key_is_root: np.ndarray, key_price: np.ndarray, lo: int, hi: int) -> dict[str, Any]:
    """`report._timeseries` at the summaries' resolution: buckets are whole minutes (up to 30
    buckets; a window of few minutes has as many buckets as minutes). Minute rows give their
    minute; hour rows give theirs from their timeline (figures per minute and key, and each
    minute's sketch of all root spans)."""
    mine = ~w.from_block
    minute = np.concatenate([w.minute[mine], w.tl_minute])
    key_of = np.concatenate([w.key_of[mine], w.tl_key_of])
    st = np.concatenate([w.stats[mine], w.tl_stats])
    entry = np.flatnonzero(mine[w.bin_row] & key_is_root[w.key_of[w.bin_row]]) if w.bin_row.size else np.zeros(0, np.int64)
    r_minute = np.concatenate([w.minute[w.bin_row[entry]], w.tl_root_minute])
    r_bin = np.concatenate([w.bin[entry].astype(np.int64), w.tl_root_bin])
    r_count = np.concatenate([w.bin_count[entry].astype(np.int64), w.tl_root_count])
    is_root = key_is_root[key_of] if key_of.size else np.zeros(0, bool)
    row_cost = _cost(st, key_price[key_of])
    minutes = np.unique(minute)
    per = max(1, int(np.ceil(minutes.size / 30)))
    buckets = int(np.ceil(minutes.size / per))
    which = np.searchsorted(minutes, minute) // per
    first = int(minutes[0]) if minutes.size else lo
    bucket_ns = per * 60_000_000_000
    edges = [first + b * bucket_ns for b in range(buckets)]
    bucket_s = bucket_ns / 1e9
    calls, errs = _by(which, buckets, st[:, COUNT]), _by(which, buckets, st[:, ERRORS])
    roots = _by(which[is_root], buckets, st[is_root, COUNT])
    rmin = _extreme(which[is_root], buckets, st[is_root, MIN], np.minimum, np.inf)
    rmax = _extreme(which[is_root], buckets, st[is_root, MAX], np.maximum, -np.inf)
    q = quantiles(np.searchsorted(minutes, r_minute) // per, r_bin, r_count, buckets, (0.5, 0.95, 0.99), rmin, rmax)
    pct = {p: [None if not roots[b] else round(float(q[b, j]), 3) for b in range(buckets)] for j, p in enumerate(("p50", "p95", "p99"))}
    return {
        "bucket_start_ns": edges, "bucket_seconds": round(bucket_s, 3),
        "calls": [int(c) for c in calls], "errors": [int(round(e)) for e in errs], "traces": [int(r) for r in roots],
        "traces_per_s": [round(r / bucket_s, 4) for r in roots], "trace_latency_ms": pct,
        "input_tokens": [int(v) for v in _by(which, buckets, st[:, IN_TOK])], "output_tokens": [int(v) for v in _by(which, buckets, st[:, OUT_TOK])],
        "cost_usd": [round(float(v), 6) for v in _by(which, buckets, row_cost)],
    }
