"""Tokens and cost rolled up to the agent that spent them.

A model call's tokens are the agent's spending: each span with tokens is charged to its nearest
ancestor agent span in the same trace (a sub-agent keeps its own; nothing is counted twice). The
report's agent rows show these sums, so "what does this agent cost" is read off its row.
"""

from __future__ import annotations

import numpy as np

from agent_otel import semconv
from agent_otel.analyzer.sources.base import SpanFrame

COLUMNS = ("input_tokens", "output_tokens", "cost_usd", "unpriced_tokens")


def agent_rollup(frame: SpanFrame, cost: np.ndarray, unpriced_tokens: np.ndarray) -> np.ndarray | None:
    """A (len(frame), 4) array: for each agent span, the input/output tokens, cost and unpriced
    tokens of the spans charged to it (its own included); zeros elsewhere. None when the source
    gives no span ids (nothing to walk)."""
    if frame.span_id is None or len(frame) == 0:
        return None
    out = np.zeros((len(frame), 4))
    index = {(t, s): i for i, (t, s) in enumerate(zip(frame.trace_id, frame.span_id))}
    is_agent = frame.kind == semconv.KIND_AGENT
    has_tokens = ~(np.isnan(frame.input_tokens) & np.isnan(frame.output_tokens))
    values = np.column_stack([np.nan_to_num(frame.input_tokens), np.nan_to_num(frame.output_tokens), cost, unpriced_tokens])
    for i in np.flatnonzero(has_tokens):
        j, hops = i, 0
        while j is not None and not is_agent[j] and hops < 256:
            parent = frame.parent_id[j]
            j = index.get((frame.trace_id[j], parent)) if parent else None
            hops += 1
        if j is not None and is_agent[j]:
            out[j] += values[i]
    return out
