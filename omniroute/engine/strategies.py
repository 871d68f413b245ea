"""Combo strategies: order a combo's targets into the attempt order.

``order_targets`` is pure apart from the counters it reads and advances in a
``StrategyStateStore`` (round-robin cursor, shuffle bag). The router then walks the order,
skips what ``ResilienceState.available`` refuses, and reports each attempt back with
``state.on_start`` / ``state.on_finish`` so usage, in-flight, latency and last-good stay live.

Semantics (combo strategies of the OmniRoute API specification):

* priority — ascending ``priority`` (lower first), ties in list order.
* weighted — one target drawn with probability weight/total, the rest by descending weight;
  weight 0 is never drawn while any weight is positive (all zero → uniform draw).
* round-robin — rotate the list by a per-combo cursor: strict alternation.
* random — uniform shuffle. strict-random — shuffle bag: every target leads once per cycle.
* least-used — fewest attempts started so far (then fewest in flight), list order on ties.
* fill-first — list order: fill the first target until it is unavailable, then the next.
* p2c — two random candidates, the cheaper (``(in_flight + 1) * latency``) leads; the rest by
  that cost. auto — p2c whose cost also divides by live health from the resilience state.
* cost-optimized — ascending price (``price_of``); unknown prices last.
* lkgp — the combo's last known good target first, then priority order.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, TypeVar

from omniroute.engine.targets import Target, TargetKey

SUPPORTED_STRATEGIES: tuple[str, ...] = (
    "priority",
    "weighted",
    "round-robin",
    "random",
    "strict-random",
    "least-used",
    "fill-first",
    "p2c",
    "cost-optimized",
    "lkgp",
    "auto",
)
_SUPPORTED = frozenset(SUPPORTED_STRATEGIES)

PriceOf = Callable[[Target], Decimal | float | None]
TargetStats = tuple[int, int, float | None]  # (usage, in_flight, latency_ms)
_T = TypeVar("_T")


class UnsupportedStrategy(ValueError):
    def __init__(self, strategy: str) -> None:
        self.strategy = strategy
        super().__init__(
            f"unsupported combo strategy {strategy!r}; supported: {', '.join(SUPPORTED_STRATEGIES)}"
        )


def validate_strategy(strategy: str) -> str:
    """Return the strategy if supported, else raise ``UnsupportedStrategy`` (API: 422)."""
    if strategy not in _SUPPORTED:
        raise UnsupportedStrategy(strategy)
    return strategy


class HealthView(Protocol):
    """What ``auto`` reads from the resilience state (``ResilienceState`` satisfies it)."""

    def health(self, target: Target, now: float) -> float: ...
    def latency_ms(self, target: Target) -> float | None: ...


class StrategyStateStore(Protocol):
    """Counters the strategies need. In-memory here; a Redis implementation (issue 11) keeps
    the same methods. Keys are ``Target.key`` so weight/priority edits keep history."""

    def advance_cursor(self, combo: str) -> int:
        """Return the combo's round-robin counter and increment it."""
        ...

    def stats(self, keys: Sequence[TargetKey]) -> list[TargetStats]:
        """``(usage, in_flight, latency_ms)`` per key, in one call (one round trip for a
        shared store). ``latency_ms`` is an EWMA of successes, ``None`` before the first."""
        ...

    def last_good(self, combo: str) -> TargetKey | None: ...
    def get_bag(self, combo: str) -> list[TargetKey] | None: ...
    def set_bag(self, combo: str, bag: list[TargetKey]) -> None: ...
    def on_start(self, combo: str, target: Target) -> None:
        """An attempt on ``target`` begins: usage and in-flight go up."""
        ...

    def on_finish(
        self, combo: str, target: Target, *, ok: bool, latency_ms: float | None = None
    ) -> None:
        """The attempt ended: in-flight goes down; on success the latency feeds the EWMA and
        the target becomes the combo's last known good; a failure of that target clears it."""
        ...


@dataclass(slots=True)
class InMemoryStrategyState:
    """Single-process counters. Not thread-safe: it lives on the event loop."""

    latency_alpha: float = 0.3
    cursors: dict[str, int] = field(default_factory=dict)
    usage_counts: dict[TargetKey, int] = field(default_factory=dict)
    in_flight_counts: dict[TargetKey, int] = field(default_factory=dict)
    latencies: dict[TargetKey, float] = field(default_factory=dict)
    last_good_by_combo: dict[str, TargetKey] = field(default_factory=dict)
    bags: dict[str, list[TargetKey]] = field(default_factory=dict)

    def advance_cursor(self, combo: str) -> int:
        value = self.cursors.get(combo, 0)
        self.cursors[combo] = value + 1
        return value

    def stats(self, keys: Sequence[TargetKey]) -> list[TargetStats]:
        usage, busy, latency = self.usage_counts, self.in_flight_counts, self.latencies
        return [(usage.get(k, 0), busy.get(k, 0), latency.get(k)) for k in keys]

    def last_good(self, combo: str) -> TargetKey | None:
        return self.last_good_by_combo.get(combo)

    def get_bag(self, combo: str) -> list[TargetKey] | None:
        return self.bags.get(combo)

    def set_bag(self, combo: str, bag: list[TargetKey]) -> None:
        self.bags[combo] = bag

    def on_start(self, combo: str, target: Target) -> None:
        key = target.key
        self.usage_counts[key] = self.usage_counts.get(key, 0) + 1
        self.in_flight_counts[key] = self.in_flight_counts.get(key, 0) + 1

    def on_finish(
        self, combo: str, target: Target, *, ok: bool, latency_ms: float | None = None
    ) -> None:
        key = target.key
        self.in_flight_counts[key] = max(0, self.in_flight_counts.get(key, 0) - 1)
        if ok:
            if latency_ms is not None:
                prev = self.latencies.get(key)
                self.latencies[key] = (
                    latency_ms if prev is None else prev + self.latency_alpha * (latency_ms - prev)
                )
            self.last_good_by_combo[combo] = key
        elif self.last_good_by_combo.get(combo) == key:
            del self.last_good_by_combo[combo]

    def reset(self, combo: str | None = None) -> None:
        """Forget per-combo state (cursor, bag, last good); ``None`` forgets everything."""
        if combo is None:
            self.cursors.clear()
            self.usage_counts.clear()
            self.in_flight_counts.clear()
            self.latencies.clear()
            self.last_good_by_combo.clear()
            self.bags.clear()
            return
        self.cursors.pop(combo, None)
        self.bags.pop(combo, None)
        self.last_good_by_combo.pop(combo, None)



def order_targets(
    strategy: str,
    combo_name: str,
    targets: Sequence[Target],
    state: StrategyStateStore,
    rng: random.Random,
    now: float,
    price_of: PriceOf | None = None,
    health: HealthView | None = None,
) -> list[Target]:
    """The attempt order for one request. Never drops a target (availability is the
    resilience state's business); raises ``UnsupportedStrategy`` for unknown strategies."""
    if strategy not in _SUPPORTED:
        raise UnsupportedStrategy(strategy)
    if len(targets) <= 1:
        return list(targets)
    match strategy:
        case "priority":
            return _by_priority(targets)
        case "fill-first":
            return list(targets)
        case "round-robin":
            start = state.advance_cursor(combo_name) % len(targets)
            return [*targets[start:], *targets[:start]]
        case "weighted":
            return _weighted(targets, rng)
        case "random":
            return _shuffled(targets, rng)
        case "strict-random":
            return _strict_random(combo_name, targets, state, rng)
        case "least-used":
            return _least_used(targets, state)
        case "cost-optimized":
            return _by_priority(targets) if price_of is None else _by_price(targets, price_of)
        case "lkgp":
            return _lkgp(targets, state.last_good(combo_name))
        case "p2c":
            return _two_choices(targets, rng, _p2c_costs(targets, state))
        case _:  # "auto"
            if health is None:
                return _two_choices(targets, rng, _p2c_costs(targets, state))
            return _two_choices(targets, rng, _auto_costs(targets, state, health, now))


def _by_priority(targets: Sequence[Target]) -> list[Target]:
    return sorted(targets, key=lambda t: t.priority)  # sorted() is stable: ties keep list order


def _weighted(targets: Sequence[Target], rng: random.Random) -> list[Target]:
    total = 0
    for t in targets:
        if t.weight > 0:
            total += t.weight
    if total == 0:
        pick = int(rng.random() * len(targets))
    else:
        point, pick = rng.random() * total, len(targets) - 1
        for i, t in enumerate(targets):
            if t.weight > 0:
                point -= t.weight
                if point < 0:
                    pick = i
                    break
    first = targets[pick]
    rest = sorted(targets, key=_negative_weight)
    del rest[next(i for i, t in enumerate(rest) if t is first)]
    return [first, *rest]


def _negative_weight(target: Target) -> int:
    return -target.weight


def _strict_random(
    combo: str, targets: Sequence[Target], state: StrategyStateStore, rng: random.Random
) -> list[Target]:
    keys = [t.key for t in targets]
    live = set(keys)
    bag = [k for k in state.get_bag(combo) or () if k in live]  # targets may have changed
    if not bag:
        bag = _shuffled(list(dict.fromkeys(keys)), rng)
    lead = bag.pop()
    state.set_bag(combo, bag)
    first = keys.index(lead)
    return [targets[first], *(t for i, t in enumerate(targets) if i != first)]


def _by_price(targets: Sequence[Target], price_of: PriceOf) -> list[Target]:
    def price(t: Target) -> tuple[bool, Decimal | float, int]:
        p = price_of(t)
        return (p is None, p if p is not None else 0, t.priority)

    return sorted(targets, key=price)


def _lkgp(targets: Sequence[Target], good: TargetKey | None) -> list[Target]:
    ordered = _by_priority(targets)
    if good is not None:
        for i, t in enumerate(ordered):
            if t.key == good:
                return [t, *ordered[:i], *ordered[i + 1 :]]
    return ordered


def _stats(targets: Sequence[Target], state: StrategyStateStore) -> list[TargetStats]:
    return state.stats([(t.connection_id, t.model) for t in targets])


def _least_used(targets: Sequence[Target], state: StrategyStateStore) -> list[Target]:
    stats = _stats(targets, state)
    return [targets[i] for i in sorted(range(len(targets)), key=stats.__getitem__)]


def _p2c_costs(targets: Sequence[Target], state: StrategyStateStore) -> list[float]:
    stats = _stats(targets, state)
    default = _default_latency([s[2] for s in stats])
    return [(busy + 1) * (default if lat is None else lat) for _, busy, lat in stats]


def _auto_costs(
    targets: Sequence[Target], state: StrategyStateStore, health: HealthView, now: float
) -> list[float]:
    latencies = [health.latency_ms(t) for t in targets]
    default = _default_latency(latencies)
    costs = []
    for t, lat, (_, busy, _) in zip(targets, latencies, _stats(targets, state), strict=True):
        h = health.health(t, now)
        costs.append((busy + 1) * (default if lat is None else lat) / h if h > 0 else float("inf"))
    return costs


def _default_latency(latencies: list[float | None]) -> float:
    # An unmeasured target is costed like the fastest measured one: optimistic, so it gets
    # tried and measured, but not so optimistic that it wins every draw forever.
    best = None
    for lat in latencies:
        if lat is not None and (best is None or lat < best):
            best = lat
    return 1.0 if best is None else best


def _two_choices(targets: Sequence[Target], rng: random.Random, costs: list[float]) -> list[Target]:
    # Two distinct indexes from rng.random(): rng.sample costs ~10x more on the hot path.
    n = len(targets)
    a = int(rng.random() * n)
    b = int(rng.random() * (n - 1))
    b += b >= a
    lead = a if costs[a] <= costs[b] else b
    order = sorted(range(n), key=costs.__getitem__)
    order.remove(lead)
    order.insert(0, lead)
    return [targets[i] for i in order]


def _shuffled(items: Sequence[_T], rng: random.Random) -> list[_T]:
    # Fisher-Yates on rng.random(): same distribution as rng.shuffle, a few times faster.
    out = list(items)
    for i in range(len(out) - 1, 0, -1):
        j = int(rng.random() * (i + 1))
        out[i], out[j] = out[j], out[i]
    return out
