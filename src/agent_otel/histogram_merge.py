"""Hand a batch of histogram measurements to the OpenTelemetry SDK as one merge per attribute set.

Why this exists: `Histogram.record` in the Python SDK costs ~5-8 us per measurement (a
`Measurement` object, the exemplar filter, the view lookup, attribute hashing and two locks, for
every reader), i.e. two records per decorated call cost as much as a third of a span. The SDK has
no bulk-record API and the Python SDK has no `MetricProducer`, so agent-otel queues the raw values
(a deque append in the caller) and, at the next collection of any reader (or every 200 ms), merges
each batch into the SDK's own per-reader aggregations: bucket counts by `bisect`, one sum/min/max
per attribute set and view. The SDK keeps doing everything else: views (renames, attribute-key
filters, other aggregations), cardinality limits, delta/cumulative temporality per reader, export.

What goes through the SDK's per-measurement path instead (exactly as a `Histogram.record` would
be aggregated): aggregations other than the explicit-bucket histogram (a view that picks an
exponential histogram, a sum, a last value, drop), values the SDK would reject or warn about, and
every value when the SDK's internals do not have the expected shape (another SDK version: then
each value is given to `Histogram.record`). Exemplars: the merged values carry none, as before
(the values were always recorded off the caller's thread, outside the span's context).
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import Any

try:  # the SDK's internals this module merges into (checked once, see `_sdk_ok`)
    from opentelemetry.context import Context
    from opentelemetry.sdk.metrics._internal._view_instrument_match import _hash_attributes, _ViewInstrumentMatch
    from opentelemetry.sdk.metrics._internal.aggregation import _ExplicitBucketHistogramAggregation
    from opentelemetry.sdk.metrics._internal.exemplar.exemplar_filter import AlwaysOffExemplarFilter, TraceBasedExemplarFilter
    from opentelemetry.sdk.metrics._internal.instrument import Histogram as _SdkHistogram
    from opentelemetry.sdk.metrics._internal.measurement import Measurement
except ImportError:  # pragma: no cover - another SDK layout: every value goes through Histogram.record
    _SdkHistogram = None  # type: ignore[assignment,misc]


_VIM_FIELDS = ("_lock", "_view", "_get_or_create_aggregation")
_HIST_FIELDS = ("_lock", "_boundaries", "_value", "_sum", "_min", "_max", "_record_min_max", "_get_empty_bucket_counts")


def _sdk_ok() -> bool:
    if _SdkHistogram is None:
        return False
    return all(callable(getattr(c, m, None)) for c, m in (
        (_ViewInstrumentMatch, "_get_or_create_aggregation"), (_ExplicitBucketHistogramAggregation, "aggregate"),
        (_ExplicitBucketHistogramAggregation, "_get_empty_bucket_counts"),
    ))


SDK_OK = _sdk_ok()
_EMPTY_CONTEXT = Context() if SDK_OK else None


def _storages(histogram: Any) -> Sequence[Any] | None:
    """The per-reader storages of an SDK histogram, or None when it is not one this module can merge into."""
    if not SDK_OK or not isinstance(histogram, _SdkHistogram):
        return None
    storages = getattr(getattr(histogram, "_measurement_consumer", None), "_reader_storages", None)
    if not isinstance(storages, Mapping) or not all(callable(getattr(s, "_get_or_init_view_instrument_match", None)) for s in storages.values()):
        return None
    sdk_config = getattr(histogram._measurement_consumer, "_sdk_config", None)
    exemplar_filter = getattr(sdk_config, "exemplar_filter", None)
    if not isinstance(exemplar_filter, (TraceBasedExemplarFilter, AlwaysOffExemplarFilter)):
        return None  # an always-on (or custom) filter samples every value: keep the per-value path
    return list(storages.values())


def record_many(histogram: Any, attributes: Mapping[str, Any], values: list[float]) -> None:
    """Record `values` into `histogram` with `attributes`, as `histogram.record(v, attributes)` for each would."""
    if not values:
        return
    storages = _storages(histogram)
    if storages is None:
        for value in values:
            histogram.record(value, attributes)
        return
    enabled = getattr(histogram, "_is_enabled", None)
    if enabled is not None and not enabled():
        return
    good = [v for v in values if v >= 0 and math.isfinite(v)]
    if len(good) != len(values):  # let the SDK warn about each value it rejects
        for value in values:
            if not (value >= 0 and math.isfinite(value)):
                histogram.record(value, attributes)
    if not good:
        return
    total, low, high = sum(good), min(good), max(good)
    binned: dict[tuple[float, ...], list[int]] = {}
    now = time.time_ns()
    matches = [vim for storage in storages for vim in storage._get_or_init_view_instrument_match(histogram)]
    if not all(hasattr(vim, f) for vim in matches for f in _VIM_FIELDS) or not all(hasattr(vim._view, "_attribute_keys") for vim in matches):
        for value in good:  # checked before anything is merged, so nothing is counted twice
            histogram.record(value, attributes)
        return
    for vim in matches:
        keys = vim._view._attribute_keys
        attrs = {k: v for k, v in attributes.items() if k in keys} if keys is not None else dict(attributes)
        key = _hash_attributes(attrs)
        with vim._lock:
            agg = vim._get_or_create_aggregation(key, attrs)
            if type(agg) is _ExplicitBucketHistogramAggregation and all(hasattr(agg, f) for f in _HIST_FIELDS):
                bounds = agg._boundaries
                counts = binned.get(bounds)
                if counts is None:
                    counts = [0] * (len(bounds) + 1)
                    for v in good:
                        counts[bisect_left(bounds, v)] += 1
                    binned[bounds] = counts
                with agg._lock:
                    if agg._value is None:
                        agg._value = agg._get_empty_bucket_counts()
                    bucket = agg._value
                    for i, c in enumerate(counts):
                        if c:
                            bucket[i] += c
                    agg._sum += total
                    if agg._record_min_max:
                        agg._min = min(agg._min, low)
                        agg._max = max(agg._max, high)
            else:  # another aggregation chosen by a view: the SDK's per-value path
                for v in good:
                    agg.aggregate(Measurement(v, now, histogram, _EMPTY_CONTEXT, attrs), False)
