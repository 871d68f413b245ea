from __future__ import annotations

import random
import time
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omniroute.engine.failures import FailureKind
from omniroute.engine.resilience import ResilienceState
from omniroute.engine.strategies import (
    SUPPORTED_STRATEGIES,
    HealthView,
    PriceOf,
    InMemoryStrategyState,
    UnsupportedStrategy,
    order_targets,
    validate_strategy,
)
from omniroute.engine.targets import Target

A = Target("conn-a", "openai", "gpt-4o")
B = Target("conn-b", "anthropic", "claude-sonnet-4")
C = Target("conn-c", "gemini", "gemini-2.5-flash")
NOW = 1_000.0


def order(
    strategy: str,
    targets: list[Target],
    state: InMemoryStrategyState,
    *,
    rng: random.Random | None = None,
    price_of: PriceOf | None = None,
    health: HealthView | None = None,
) -> list[Target]:
    rng = rng or random.Random(7)
    return order_targets(strategy, "combo", targets, state, rng, NOW, price_of, health)


def test_round_robin_alternates_exactly() -> None:
    state = InMemoryStrategyState()
    firsts = [order("round-robin", [A, B, C], state)[0] for _ in range(9)]
    assert firsts == [A, B, C] * 3
    # The rest of the list is the rotation, so fallbacks also rotate.
    assert order("round-robin", [A, B, C], state) == [A, B, C]
    assert order("round-robin", [A, B, C], state) == [B, C, A]


def test_round_robin_cursor_is_per_combo() -> None:
    state = InMemoryStrategyState()
    rng = random.Random(0)
    assert order_targets("round-robin", "x", [A, B], state, rng, NOW)[0] == A
    assert order_targets("round-robin", "y", [A, B], state, rng, NOW)[0] == A
    assert order_targets("round-robin", "x", [A, B], state, rng, NOW)[0] == B


def test_weighted_spreads_three_to_one() -> None:
    heavy = Target("conn-a", "openai", "gpt-4o", weight=3)
    light = Target("conn-b", "openai", "gpt-4o", weight=1)
    state, rng = InMemoryStrategyState(), random.Random(1234)
    draws = 20_000
    counts = Counter(
        order_targets("weighted", "c", [heavy, light], state, rng, NOW)[0] for _ in range(draws)
    )
    share = counts[heavy] / draws
    assert abs(share - 0.75) < 0.015, share


def test_weighted_zero_weight_is_never_drawn_but_stays_as_fallback() -> None:
    zero = Target("conn-z", "openai", "gpt-4o", weight=0)
    one = Target("conn-o", "openai", "gpt-4o", weight=1)
    state, rng = InMemoryStrategyState(), random.Random(5)
    for _ in range(500):
        assert order_targets("weighted", "c", [zero, one], state, rng, NOW) == [one, zero]


def test_weighted_rest_is_by_descending_weight() -> None:
    targets = [Target(f"c{w}", "openai", "m", weight=w) for w in (1, 5, 3)]
    state, rng = InMemoryStrategyState(), random.Random(3)
    for _ in range(200):
        first, *rest = order_targets("weighted", "c", targets, state, rng, NOW)
        assert [t.weight for t in rest] == sorted((t.weight for t in rest), reverse=True)


def test_weighted_all_zero_is_uniform() -> None:
    targets = [Target(f"c{i}", "openai", "m", weight=0) for i in range(3)]
    state, rng = InMemoryStrategyState(), random.Random(9)
    counts = Counter(
        order_targets("weighted", "c", targets, state, rng, NOW)[0] for _ in range(3000)
    )
    assert all(800 < counts[t] < 1200 for t in targets), counts


def test_strict_random_each_target_leads_once_per_cycle() -> None:
    state, rng = InMemoryStrategyState(), random.Random(42)
    targets = [A, B, C, Target("conn-d", "ollama", "llama3")]
    cycles = []
    for _ in range(5):
        cycle = [order_targets("strict-random", "c", targets, state, rng, NOW)[0] for _ in targets]
        assert sorted(cycle, key=targets.index) == targets
        cycles.append(cycle)
    assert len({tuple(c) for c in cycles}) > 1  # it is random, not a fixed rotation


def test_strict_random_survives_target_list_change() -> None:
    state, rng = InMemoryStrategyState(), random.Random(1)
    order_targets("strict-random", "c", [A, B, C], state, rng, NOW)
    leads = {order_targets("strict-random", "c", [A, B], state, rng, NOW)[0] for _ in range(4)}
    assert leads <= {A, B}


def test_priority_orders_by_priority_then_list_order() -> None:
    p2 = Target("x", "openai", "m", priority=2)
    p0 = Target("y", "openai", "m", priority=0)
    p0b = Target("z", "openai", "m", priority=0)
    assert order("priority", [p2, p0, p0b], InMemoryStrategyState()) == [p0, p0b, p2]


def test_fill_first_keeps_list_order_and_skipping_is_resilience_business() -> None:
    state, res = InMemoryStrategyState(), ResilienceState()
    for _ in range(3):
        assert order("fill-first", [A, B, C], state) == [A, B, C]
    # A runs out of quota: the router skips it while it cools down, then comes back to it.
    res.record_failure(A, FailureKind.QUOTA, NOW)
    attempt = [t for t in order("fill-first", [A, B, C], state) if res.available(t, NOW)]
    assert attempt[0] == B
    later = NOW + 10_000
    assert [t for t in order("fill-first", [A, B, C], state) if res.available(t, later)][0] == A


def test_least_used_picks_fewest_started() -> None:
    state = InMemoryStrategyState()
    for _ in range(3):
        state.on_start("c", A)
        state.on_finish("c", A, ok=True)
    state.on_start("c", B)
    state.on_finish("c", B, ok=True)
    assert order("least-used", [A, B, C], state) == [C, B, A]


def test_least_used_spreads_evenly_when_router_reports() -> None:
    state = InMemoryStrategyState()
    seen: Counter[Target] = Counter()
    for _ in range(30):
        first = order("least-used", [A, B, C], state)[0]
        state.on_start("c", first)
        state.on_finish("c", first, ok=True)
        seen[first] += 1
    assert seen == {A: 10, B: 10, C: 10}


def test_p2c_prefers_less_loaded_and_faster() -> None:
    state = InMemoryStrategyState()
    for t, latency in ((A, 900.0), (B, 100.0)):
        state.on_start("c", t)
        state.on_finish("c", t, ok=True, latency_ms=latency)
    # Only two targets: both are always sampled, so the cheaper one always leads.
    for seed in range(20):
        assert order("p2c", [A, B], state, rng=random.Random(seed)) == [B, A]
    # Load B with in-flight requests until its (in_flight + 1) * latency exceeds A's.
    for _ in range(9):
        state.on_start("c", B)
    assert order("p2c", [A, B], state)[0] == A


def test_p2c_with_many_targets_never_leads_with_the_worst() -> None:
    state = InMemoryStrategyState()
    latencies = {A: 50.0, B: 500.0, C: 5_000.0}
    for t, lat in latencies.items():
        state.on_start("c", t)
        state.on_finish("c", t, ok=True, latency_ms=lat)
    rng = random.Random(11)
    leads = Counter(order_targets("p2c", "c", [A, B, C], state, rng, NOW)[0] for _ in range(600))
    assert leads[C] == 0 and leads[A] > leads[B] > 0


def test_auto_skips_unhealthy_and_uses_resilience_latency() -> None:
    state, res = InMemoryStrategyState(), ResilienceState()
    res.record_success(A, 100.0, NOW)
    res.record_success(B, 800.0, NOW)
    for seed in range(10):
        assert order("auto", [A, B], state, rng=random.Random(seed), health=res)[0] == A
    res.record_failure(A, FailureKind.RATE_LIMITED, NOW, retry_after=30)
    for seed in range(10):
        assert order("auto", [A, B], state, rng=random.Random(seed), health=res) == [B, A]


def test_lkgp_follows_last_success_and_drops_it_on_failure() -> None:
    state = InMemoryStrategyState()
    assert order("lkgp", [A, B, C], state) == [A, B, C]
    state.on_start("combo", A)
    state.on_finish("combo", A, ok=False)
    state.on_start("combo", B)
    state.on_finish("combo", B, ok=True, latency_ms=120)
    assert order("lkgp", [A, B, C], state) == [B, A, C]
    state.on_start("combo", C)
    state.on_finish("combo", C, ok=False)  # a different target failing changes nothing
    assert order("lkgp", [A, B, C], state) == [B, A, C]
    state.on_start("combo", B)
    state.on_finish("combo", B, ok=False)
    assert order("lkgp", [A, B, C], state) == [A, B, C]
    state.on_start("combo", C)
    state.on_finish("combo", C, ok=True)
    assert order("lkgp", [A, B, C], state) == [C, A, B]


def test_cost_optimized_orders_by_price_unknown_last() -> None:
    prices: dict[Target, Decimal | None] = {A: Decimal("2.5"), B: Decimal("0.1"), C: None}
    ordered = order("cost-optimized", [A, B, C], InMemoryStrategyState(), price_of=prices.get)
    assert ordered == [B, A, C]


def test_cost_optimized_with_the_price_table() -> None:
    from omniroute.engine.pricing import PriceTable

    table = PriceTable()
    mini = Target("conn-a", "openai", "gpt-4o-mini")
    opus = Target("conn-b", "anthropic", "claude-opus-4-1")
    flash = Target("conn-c", "gemini", "gemini-2.5-flash")
    state = InMemoryStrategyState()
    ordered = order("cost-optimized", [opus, flash, mini], state, price_of=table.price_of)
    assert ordered == [mini, flash, opus]


SPECIFIED_ONLY = ["context-relay", "reset-aware", "reset-window", "headroom", "context-optimized"]


@pytest.mark.parametrize("name", [*SPECIFIED_ONLY, "fusion", "nope"])
def test_unsupported_strategy_lists_the_supported_ones(name: str) -> None:
    with pytest.raises(UnsupportedStrategy) as err:
        order(name, [A, B], InMemoryStrategyState())
    message = str(err.value)
    assert repr(name) in message
    for supported in SUPPORTED_STRATEGIES:
        assert supported in message
    with pytest.raises(ValueError):
        validate_strategy(name)


def test_single_target_and_empty_lists() -> None:
    state = InMemoryStrategyState()
    for name in SUPPORTED_STRATEGIES:
        assert order(name, [A], state) == [A]
        assert order(name, [], state) == []


@given(
    strategy=st.sampled_from(SUPPORTED_STRATEGIES),
    weights=st.lists(st.integers(-2, 10), min_size=2, max_size=8),
    seed=st.integers(0, 2**32),
)
def test_every_strategy_returns_a_permutation(strategy: str, weights: list[int], seed: int) -> None:
    targets = [
        Target(f"c{i}", "openai", "m", weight=w, priority=w % 3) for i, w in enumerate(weights)
    ]
    state = InMemoryStrategyState()
    res = ResilienceState()
    price_of = lambda t: Decimal(t.weight) if t.weight % 2 else None  # noqa: E731
    for _ in range(3):
        out = order_targets(strategy, "c", targets, state, random.Random(seed), NOW, price_of, res)
        assert sorted(out, key=targets.index) == targets


def test_micro_benchmark_order_plus_available(capsys: pytest.CaptureFixture[str]) -> None:
    """Not a timed assertion: prints µs/call (best of 5 runs) for the report, next to a
    calibration loop so numbers from a loaded machine can be read in proportion."""
    targets = [Target(f"conn-{i}", "openai", "gpt-4o", weight=i + 1) for i in range(5)]
    state, res, rng = InMemoryStrategyState(), ResilienceState(), random.Random(0)
    for t in targets:
        res.record_success(t, 200.0, NOW)
        state.on_start("bench", t)
        state.on_finish("bench", t, ok=True, latency_ms=200.0)

    def best_of(fn: object, n: int = 4_000) -> float:
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(n):
                fn()  # type: ignore[operator]
            runs.append((time.perf_counter() - start) / n * 1e6)
        return min(runs)

    def attempt(name: str) -> object:
        def run() -> None:
            for t in order_targets(name, "bench", targets, state, rng, NOW, None, res):
                if res.available(t, NOW):
                    break

        return run

    lines = [f"calibration sum(range(100)): {best_of(lambda: sum(range(100))):.2f} µs"]
    lines.append(f"available() alone: {best_of(lambda: res.available(targets[0], NOW)):.2f} µs")
    for name in SUPPORTED_STRATEGIES:
        lines.append(f"{name}: {best_of(attempt(name)):.2f} µs/call")
    with capsys.disabled():
        print("\n[engine micro-benchmark: order_targets + first available, 5 targets]")
        print("\n".join(lines))
