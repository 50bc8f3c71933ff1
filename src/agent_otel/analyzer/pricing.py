"""Token prices, for cost figures: the user's table on top of `genai-prices`, the maintained price library.

A model's price is looked up in the user's table first (YAML/JSON: model -> input/output USD per
1M tokens, optionally cache_read / cache_write / reasoning), then in `genai-prices` (pydantic's
maintained table of providers' list prices, with cached-input, cache-write and reasoning rates),
and only when that package is missing in the few built-in rows below. A model priced nowhere costs
0 and is listed as unpriced. `price_source(prices)` says which source and version a report used.
"""

from __future__ import annotations

import functools
import json
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from agent_otel.errors import PriceError  # noqa: F401  (re-exported)


class Price(NamedTuple):
    """USD per 1M tokens. Cached-input, cache-write and reasoning rates: None = priced as input / output."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None


# Used only where `genai-prices` is not installed: public list prices at the time of writing.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-sonnet-4": (3.00, 15.00),
}
# gen_ai.provider.name -> genai-prices provider id, where they differ.
_PROVIDER_IDS = {"aws.bedrock": "aws", "gcp.gemini": "google", "gcp.vertex_ai": "google", "gemini": "google",
                 "azure.ai.openai": "azure", "x_ai": "x-ai", "mistral_ai": "mistral"}


class Prices(dict):  # type: ignore[type-arg]
    """model -> Price of the user's table (the override); `source` names what prices the rest."""

    source: str = ""


@functools.cache
def _library_version() -> str | None:
    """The installed genai-prices version (looked up once: reading package metadata costs ~4 ms)."""
    try:
        import genai_prices  # noqa: F401
    except ImportError:
        return None
    return metadata.version("genai-prices")


def load_prices(path: str | Path | None) -> Prices:
    """The user's price table (None: none), to be looked up before the maintained one."""
    version = _library_version()
    prices = Prices()
    if version is None:
        prices.update({m: Price(*p) for m, p in DEFAULT_PRICES.items()})
        prices.source = "agent-otel built-in table (genai-prices not installed)"
    else:
        prices.source = f"genai-prices {version}"
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
            extra = {k: float(entry[k]) for k in ("cache_read", "cache_write", "reasoning") if entry.get(k) is not None}
            prices[str(model)] = Price(float(entry["input"]), float(entry["output"]), **extra)
        except (TypeError, KeyError, ValueError, AttributeError):
            raise PriceError(f"price table {p}: model {model!r} needs numeric 'input' and 'output' "
                             "(USD per 1M tokens; optional cache_read, cache_write, reasoning)") from None
    prices.source = f"{p} over {prices.source}"
    return prices


def price_source(prices: dict[str, Any] | None) -> str:
    """Which price source (and version) `prices` stands for, for the report."""
    return getattr(prices, "source", "") or "caller's table"


def _prefix(model: str, prices: dict[str, Any]) -> Any:
    if model in prices:
        return prices[model]
    matches = [k for k in prices if model.startswith(k)]
    return prices[max(matches, key=len)] if matches else None


@functools.lru_cache(maxsize=1024)
def _maintained(model: str, provider: str | None) -> Price | None:
    """The model's price in genai-prices (None: not there, or the package is missing)."""
    try:
        from genai_prices import Usage, calc_price
    except ImportError:
        return None
    tries = [_PROVIDER_IDS.get(provider, provider)] if provider else []
    tries += [None, "aws"] if "." in model else [None]  # Bedrock ids: "anthropic.claude-...-v1:0"
    for provider_id in tries:
        try:
            mp = calc_price(Usage(input_tokens=1), model, provider_id=provider_id).model_price
        except LookupError:
            continue
        return Price(*(_per_mtok(getattr(mp, k, None)) for k in ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")))
    return None


def _per_mtok(value: Any) -> float | None:
    if value is None:
        return None
    base = getattr(value, "base", value)  # tiered prices: the first tier
    return float(base)


def price_for(model: str | None, prices: dict[str, Any], provider: str | None = None) -> Price | tuple[float, float] | None:
    """The user's table first (exact name, then the longest known prefix: `gpt-4o-2024-08-06` -> `gpt-4o`), then genai-prices."""
    if not model:
        return None
    own = _prefix(model, prices)
    if own is not None:
        return own
    found = _maintained(model, provider)
    if found is not None and found.input is not None and found.output is not None:
        return found
    return None


def cost_usd(model: str | None, prices: dict[str, Any], input_tokens: float = 0, output_tokens: float = 0, *,
             cache_read_tokens: float = 0, cache_write_tokens: float = 0, reasoning_tokens: float = 0,
             provider: str | None = None) -> float:
    """USD of one model call. Input tokens include the cached ones and output tokens the reasoning ones
    (as the conventions count them); those are priced at their own rates where the price has one."""
    price = price_for(model, prices, provider)
    if price is None:
        return 0.0
    return float(priced(price, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens))


def priced(price: Price | tuple[float, ...], input_tokens: Any, output_tokens: Any, cache_read_tokens: Any = 0,
           cache_write_tokens: Any = 0, reasoning_tokens: Any = 0) -> Any:
    """USD of token counts (numbers or numpy arrays, NaN = 0) at one price: cached-input, cache-write and
    reasoning tokens at their own rates, the rest of the input and output at the plain ones."""
    import numpy as np

    p = Price(*price)
    inp, out = np.nan_to_num(input_tokens), np.nan_to_num(output_tokens)
    cache_read = np.minimum(np.nan_to_num(cache_read_tokens), inp)
    cache_write = np.minimum(np.nan_to_num(cache_write_tokens), inp - cache_read)
    reasoning = np.minimum(np.nan_to_num(reasoning_tokens), out)
    return ((inp - cache_read - cache_write) * p.input + cache_read * (p.input if p.cache_read is None else p.cache_read)
            + cache_write * (p.input if p.cache_write is None else p.cache_write)
            + (out - reasoning) * p.output + reasoning * (p.output if p.reasoning is None else p.reasoning)) / 1e6
