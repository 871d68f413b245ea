from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omniroute.engine.pricing import ModelPrice, PriceTable, cost, format_cost
from omniroute.engine.targets import Target

D = Decimal


@pytest.fixture
def table() -> PriceTable:
    return PriceTable()


def test_exact_cost_with_cached_input(table: PriceTable) -> None:
    # gpt-4o: 2.50 in / 10.00 out / 1.25 cached per 1M; 1000 prompt tokens of which 200 cached.
    value = table.cost("gpt-4o", "openai", tokens_in=1000, tokens_out=500, cached_in=200)
    assert value == D("0.00725")
    assert format_cost(value) == "0.0072500000"


def test_exact_cost_small_and_large(table: PriceTable) -> None:
    assert table.cost("gpt-4o-mini", "openai", 1, 1) == D("0.00000075")
    assert format_cost(table.cost("gpt-4o-mini", "openai", 1, 1)) == "0.0000007500"
    big = table.cost("claude-opus-4-1-20250805", "anthropic", 1_000_000, 1_000_000, 500_000)
    assert big == D("15") / 2 + D("1.5") / 2 + D("75")
    assert format_cost(big) == "83.2500000000"


def test_cached_price_defaults_to_input_when_unknown(table: PriceTable) -> None:
    assert table.cost("llama-3.3-70b-versatile", "groq", 1000, 0, 400) == D("0.00059")


def test_unpriced_and_free(table: PriceTable) -> None:
    assert table.cost("mystery-model", "openai", 10_000, 10_000) == 0
    assert format_cost(table.cost("mystery-model", "openai", 10_000, 10_000)) == "0.0000000000"
    assert table.lookup("demo/echo", "demo") is not None
    assert table.cost("demo/echo", "demo", 10**6, 10**6) == 0
    assert table.cost("echo", "demo", 10**6, 10**6) == 0
    assert table.cost("llama3.3", "ollama", 10**6, 10**6) == 0


@pytest.mark.parametrize(
    ("model", "provider", "expected_input"),
    [
        ("gpt-4o", "openai", "2.50"),
        ("gpt-4o-2024-08-06", "openai", "2.50"),
        ("gpt-4o-mini-2024-07-18", "openai", "0.15"),
        ("gpt-4.1-nano-2025-04-14", "openai", "0.10"),
        ("gpt-5", "openai", "1.25"),
        ("gpt-5-mini", "openai", "0.25"),
        ("o3", "openai", "2.00"),
        ("o3-pro", "openai", "20.00"),
        ("o4-mini", "openai", "1.10"),
        ("claude-3-5-haiku-20241022", "anthropic", "0.80"),
        ("claude-3-7-sonnet-20250219", "anthropic", "3.00"),
        ("claude-sonnet-4-20250514", "anthropic", "3.00"),
        ("claude-opus-4-5-20251101", "anthropic", "5.00"),
        ("claude-opus-4-20250514", "anthropic", "15.00"),
        ("claude-haiku-4-5", "anthropic", "1.00"),
        ("gemini-2.5-pro", "gemini", "1.25"),
        ("gemini-2.5-flash-lite", "gemini", "0.10"),
        ("gemini-2.5-flash-preview-05-20", "gemini", "0.15"),  # the preview's own price
        ("openai/gpt-4o", "openrouter", "2.50"),  # provider-prefixed model id
        ("GPT-4o", "openai", "2.50"),
    ],
)
def test_lookup_exact_then_longest_prefix(
    table: PriceTable, model: str, provider: str, expected_input: str
) -> None:
    price = table.lookup(model, provider)
    assert price is not None and price.input == D(expected_input)


def test_prefix_must_end_at_a_boundary(table: PriceTable) -> None:
    assert table.lookup("gpt-4oo", "openai") is None
    assert table.lookup("o3x", "openai") is None


def test_overrides_merge_on_top(table: PriceTable) -> None:
    custom = PriceTable(
        {
            "gpt-4o": {"input": "2.00"},  # partial: output and cached keep the defaults
            "my-org/*": ModelPrice(D("1"), D("2")),
            "gpt-4o-mini": {"input": 0.1, "output": 0.5, "cachedInput": 0.05},
        }
    )
    price = custom.lookup("gpt-4o-2024-11-20", "openai")
    assert price == ModelPrice(D("2.00"), D("10.00"), D("1.25"))
    assert custom.cost("gpt-4o-mini", "openai", 1_000_000, 0, 1_000_000) == D("0.05")
    assert custom.cost("x", "my-org", 1_000_000, 1_000_000) == D("3")
    assert custom.entries()["gpt-4o"]["input"] == "2.00"
    assert table.lookup("gpt-4o", "openai").input == D("2.50")  # type: ignore[union-attr]


def test_override_pattern_beats_a_longer_default(table: PriceTable) -> None:
    custom = PriceTable({"gpt-4o*": ModelPrice(D("9"), D("9"))})
    assert custom.lookup("gpt-4o-mini", "openai").input == D("9")  # type: ignore[union-attr]


def test_blended_price_for_cost_optimized(table: PriceTable) -> None:
    assert table.blended("gpt-4o") == D("5.5")  # 0.6 * 2.5 + 0.4 * 10
    assert table.price_of(Target("c", "openai", "gpt-4o-mini")) == D("0.33")
    assert table.blended("mystery") is None


def test_module_level_cost_and_rounding() -> None:
    assert cost("gpt-4o", "openai", 1000, 0) == D("0.0025")
    assert format_cost(D("0.00000000005")) == "0.0000000001"  # half-up
    assert format_cost(D("0.000000000049")) == "0.0000000000"
    assert format_cost(D(0)) == "0.0000000000"


# Our own layers (overrides, local entries) bill with this module's formula.
OWN = {"house-model": ModelPrice.of("2.50", "10.00", "1.25"), "flat-model": ModelPrice.of("0.59", "0.79"),
       "tiny-model": ModelPrice.of("0.000001", "0.3", "0")}


@given(
    model=st.sampled_from(sorted(OWN)),
    tin=st.integers(0, 10**7),
    tout=st.integers(0, 10**7),
    cached_share=st.floats(0, 1),
)
def test_cost_is_exact_and_linear(model: str, tin: int, tout: int, cached_share: float) -> None:
    table = PriceTable(OWN)
    cached = int(tin * cached_share)
    price = OWN[model]
    cached_price = price.input if price.cached_input is None else price.cached_input
    expected = ((tin - cached) * price.input + cached * cached_price + tout * price.output) / D(
        10**6
    )
    assert table.cost(model, "x", tin, tout, cached) == expected
    assert len(format_cost(expected).split(".")[1]) == 10


@pytest.mark.parametrize("model", ["anthropic.claude-sonnet-4-5-20250929-v1:0",
                                   "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5@20250929"])
def test_cloud_model_ids_are_priced_as_the_vendor_model(table: PriceTable, model: str) -> None:
    # Bedrock's own entry when the table has one (AWS's regional profiles cost 10% more), the
    # vendor's otherwise: either way the vendor model's price, never unknown.
    price = table.lookup(model, "bedrock")
    assert price is not None
    assert price.input in (D("3"), D("3.3"))


@pytest.mark.parametrize(("model", "provider"), [
    ("gpt-4o", "openai"), ("claude-sonnet-4-5", "anthropic"), ("deepseek-chat", "openai-compatible"),
    ("gemini-2.5-pro", "gemini"), ("sonar", "perplexity"), ("llama-3.3-70b-versatile", "openai"),
])
@pytest.mark.parametrize(("tokens_in", "tokens_out", "cached"), [(1000, 500, 200), (250_000, 1000, 50_000)])
def test_cost_is_what_the_maintained_table_bills(
    table: PriceTable, model: str, provider: str, tokens_in: int, tokens_out: int, cached: int
) -> None:
    """Our sum agrees with genai-prices' own calculation, long-context tiers and per-call fees included."""
    import genai_prices

    from omniroute.engine.price_source import MaintainedPrices

    entry = MaintainedPrices().find(model, provider)
    assert entry is not None
    usage = genai_prices.Usage(input_tokens=tokens_in, output_tokens=tokens_out, cache_read_tokens=cached)
    expected = genai_prices.calc_price(usage, entry.model.id, provider_id=entry.provider.id).total_price
    assert table.priced_cost(model, provider, tokens_in, tokens_out, cached) == expected


def test_an_unpriced_model_has_no_cost_not_zero(table: PriceTable) -> None:
    assert table.priced_cost("gpt-mock", "openai", 1000, 1000) is None
    assert table.priced_cost("mock/gpt-mock", "openai-compatible", 1000, 1000) is None
    assert table.priced_cost("echo", "demo", 1000, 1000) == 0  # free is a price
    priced = PriceTable({"gpt-mock": {"input": 1, "output": 2}})
    assert priced.priced_cost("gpt-mock", "openai", 1_000_000, 1_000_000) == D("3")


# A fresh interpreter: what start-up imports and builds (the router's table, one with a partial
# override), then the first priced lookups, from four threads at once (one of them could be
# start-up's warm-up thread).
FIRST_USE = """
import sys, threading
import omniroute.addons, omniroute.api.app, omniroute.cli, omniroute.runtime
from omniroute.engine.pricing import PriceTable, load_maintained
table, corrected = PriceTable(), PriceTable({"gpt-4o": {"output": "20"}})
before = "genai_prices" in sys.modules
costs, tables = [], []
def first_use():
    tables.append(load_maintained())
    costs.append(table.priced_cost("gpt-4o", "openai", 1000, 500, 200))
threads = [threading.Thread(target=first_use) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(before, sorted(set(map(str, costs))), len({id(t) for t in tables}), corrected.lookup("gpt-4o").as_dict())
"""


def test_the_maintained_table_is_read_on_first_use_once_with_its_prices() -> None:
    out = subprocess.run([sys.executable, "-c", FIRST_USE], capture_output=True, text=True, check=True,
                         timeout=120).stdout.split(maxsplit=3)
    # Not imported by start-up; the first lookups (however many at once) read one table, priced;
    # the override keeps the maintained input and cached prices of the entry it corrects.
    assert out == ["False", "['0.00725']", "1",
                   "{'input': '2.5', 'output': '20', 'cached_input': '1.25'}\n"]
