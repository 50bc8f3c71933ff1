"""Token prices, for cost figures. A user's table (YAML/JSON: model -> input/output USD per 1M
tokens) overrides these defaults; a model priced nowhere costs 0 and is listed as unpriced."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from agent_otel.errors import PriceError  # noqa: F401  (re-exported)

# USD per 1M tokens (input, output); public list prices at the time of writing.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-sonnet-4": (3.00, 15.00),
}


def load_prices(path: str | Path | None) -> dict[str, tuple[float, float]]:
    prices = dict(DEFAULT_PRICES)
    if path is None:
        return prices
    p = Path(path)
    try:
        text = p.read_text()
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise PriceError(f"price table {p}: {exc}") from None
    if not isinstance(data, dict):
        raise PriceError(f"price table {p}: expected a mapping of model -> {{input, output}}")
    for model, entry in data.items():
        try:
            prices[str(model)] = (float(entry["input"]), float(entry["output"]))
        except (TypeError, KeyError, ValueError):
            raise PriceError(f"price table {p}: model {model!r} needs numeric 'input' and 'output' (USD per 1M tokens)") from None
    return prices


def price_for(model: str | None, prices: dict[str, tuple[float, float]]) -> tuple[float, float] | None:
    """Exact name first, then the longest known prefix (`gpt-4o-2024-08-06` -> `gpt-4o`)."""
    if not model:
        return None
    if model in prices:
        return prices[model]
    matches = [k for k in prices if model.startswith(k)]
    return prices[max(matches, key=len)] if matches else None
