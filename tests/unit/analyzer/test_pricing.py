"""Cost from the maintained price library (genai-prices), cache and reasoning tokens at their own rates,
the user's table on top; the report names the price source it used."""

from __future__ import annotations

import importlib.util

import pytest

from agent_otel import semconv
from agent_otel.analyzer import build_report
from agent_otel.analyzer.pricing import PriceError, cost_usd, load_prices, price_for
from agent_otel.analyzer.sources.local import LocalSource
from spanwriter import MS, T0, Writer

pytestmark = pytest.mark.skipif(importlib.util.find_spec("genai_prices") is None,
                                reason="genai-prices needs Python 3.11+ (3.10 prices from the built-in table)")


def test_prices_come_from_genai_prices_with_cache_rates():
    from importlib.metadata import version

    table = load_prices(None)
    assert table.source == f"genai-prices {version('genai-prices')}"
    claude = price_for("claude-sonnet-4-20250514", table)
    assert (claude.input, claude.output, claude.cache_read, claude.cache_write) == (3.0, 15.0, 0.3, 3.75)  # public list prices
    assert price_for("anthropic.claude-3-5-haiku-20241022-v1:0", table, "aws.bedrock").input == 0.8  # Bedrock ids
    assert price_for("no-such-model-xyz", table) is None


def test_cache_read_cache_write_and_reasoning_tokens_at_their_own_rates(tmp_path):
    table = load_prices(None)
    # 1000 input of which 600 read from the cache and 100 written to it; 200 output
    got = cost_usd("claude-sonnet-4-20250514", table, 1000, 200, cache_read_tokens=600, cache_write_tokens=100)
    assert got == pytest.approx((300 * 3.0 + 600 * 0.3 + 100 * 3.75 + 200 * 15.0) / 1e6)
    override = tmp_path / "prices.yaml"
    override.write_text("o3-mini:\n  input: 1.1\n  output: 4.4\n  reasoning: 8.8\n  cache_read: 0.55\n")
    mine = load_prices(override)
    assert mine.source.startswith(f"{override} over genai-prices ")
    got = cost_usd("o3-mini", mine, 1000, 500, cache_read_tokens=400, reasoning_tokens=300)
    assert got == pytest.approx((600 * 1.1 + 400 * 0.55 + 200 * 4.4 + 300 * 8.8) / 1e6)  # the user's table wins


def test_a_bad_override_names_the_model_and_what_is_missing(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("gpt-x:\n  input: cheap\n")
    with pytest.raises(PriceError, match="gpt-x.*'input' and 'output'"):
        load_prices(bad)


def test_report_prices_cache_tokens_and_names_its_source(tmp_path):
    w = Writer(tmp_path / "s.db")
    w.span("llm", "claude", 0, 10, **{semconv.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-20250514", semconv.GEN_AI_USAGE_INPUT_TOKENS: 1000,
                                    semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 200, semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 600,
                                    semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 100})
    override = tmp_path / "prices.json"
    override.write_text('{"claude-sonnet-4": {"input": 1, "output": 2}}')
    rep = build_report(LocalSource(tmp_path / "s.db"), T0 - MS, T0 + 3_600_000 * MS).to_dict()
    assert rep["totals"]["cost_usd"] == pytest.approx((300 * 3.0 + 600 * 0.3 + 100 * 3.75 + 200 * 15.0) / 1e6, abs=1e-6)
    assert rep["totals"]["price_source"].startswith("genai-prices ")
    rep = build_report(LocalSource(tmp_path / "s.db"), T0 - MS, T0 + 3_600_000 * MS, prices=load_prices(override)).to_dict()
    assert rep["totals"]["cost_usd"] == pytest.approx((1000 * 1 + 200 * 2) / 1e6, abs=1e-6)  # no cache rates given: plain input
    assert rep["totals"]["price_source"].startswith(f"{override} over genai-prices")
