"""Shared state on a real redis-server: the engine's strategy and resilience behaviours (the
unit tests of the in-memory stores, run again on both implementations), two instances on
one Redis, config and inspector events between instances, and a Redis outage mid-run."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import pytest_asyncio

from omniroute.engine.failures import FailureKind
from omniroute.engine.resilience import Reason, ResilienceState, Unavailable
from omniroute.engine.resilience_model import InMemoryResilienceStore
from omniroute.engine.strategies import InMemoryStrategyState, StrategyStateStore, order_targets
from omniroute.engine.targets import Target
from omniroute.inspector.model import InterceptedRequest
from omniroute.inspector.ring import Ring
from omniroute.shared.events import (
    ConfigNotifier,
    EventBus,
    InMemoryEventBus,
    InMemoryHub,
    InspectorEventBridge,
    RedisEventBus,
)
from omniroute.shared.link import RedisLink
from omniroute.shared.redis_state import RedisResilienceStore, RedisStrategyState
from omniroute.shared.state import open_shared_state
from omniroute.testing.harness import free_port
from omniroute.testing.servers import RedisServer

A = Target("conn-a", "openai", "gpt-4o")
B = Target("conn-b", "anthropic", "claude-sonnet-4")
C = Target("conn-c", "gemini", "gemini-2.5-flash")
T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture()
def link(redis_server: RedisServer) -> Iterator[RedisLink]:
    link = RedisLink(redis_server.url)
    link.client.flushdb()
    yield link
    link.close()


# --- the unit tests of the in-memory stores, on both implementations -------------------------

UNIT = Path(__file__).resolve().parents[1] / "unit" / "engine"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"shared_state_{name}", UNIT / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _behaviours(module: ModuleType) -> list[str]:
    """Plain test functions. Left out: parametrized/property tests of pure ordering (they do
    not touch state beyond what the others cover) and the timing micro-benchmark."""
    return sorted(
        name for name, fn in vars(module).items()
        if name.startswith("test_") and inspect.isfunction(fn)
        and not inspect.signature(fn).parameters and not hasattr(fn, "hypothesis")
    )


STRATEGY_TESTS = _load("test_strategies")
RESILIENCE_TESTS = _load("test_resilience")


@dataclass
class Backend:
    name: str
    strategy_state: Callable[[], StrategyStateStore]
    resilience_store: Callable[[], Any]

    def resilience_state(self, *args: Any, **kwargs: Any) -> ResilienceState:
        kwargs.setdefault("store", self.resilience_store())
        return ResilienceState(*args, **kwargs)


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        return Backend("memory", InMemoryStrategyState, InMemoryResilienceStore)
    link: RedisLink = request.getfixturevalue("link")
    # A fresh namespace per store: each "new store" in a test starts empty, as in memory.
    def fresh() -> str:
        return f"t{uuid.uuid4().hex[:10]}"

    return Backend(
        "redis",
        lambda: RedisStrategyState(link, namespace=fresh()),
        lambda: RedisResilienceStore(link, namespace=fresh()),
    )


@pytest.mark.parametrize("name", _behaviours(STRATEGY_TESTS))
def test_strategy_behaviour(name: str, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(STRATEGY_TESTS, "InMemoryStrategyState", backend.strategy_state)
    monkeypatch.setattr(STRATEGY_TESTS, "ResilienceState", backend.resilience_state)
    getattr(STRATEGY_TESTS, name)()


@pytest.mark.parametrize("name", _behaviours(RESILIENCE_TESTS))
def test_resilience_behaviour(
    name: str, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RESILIENCE_TESTS, "ResilienceState", backend.resilience_state)
    getattr(RESILIENCE_TESTS, name)()


def test_the_redis_stores_really_are_used(link: RedisLink) -> None:
    state = ResilienceState(store=RedisResilienceStore(link, namespace="seen"))
    state.record_failure(A, FailureKind.MODEL_NOT_FOUND, T0)
    counters = RedisStrategyState(link, namespace="seen")
    counters.on_start("c", A)
    keys = set(link.client.scan_iter(match="seen:*"))
    assert 'seen:resilience:lockout:["conn-a","gpt-4o"]' in keys
    assert {"seen:strategy:usage", "seen:strategy:inflight"} <= keys


# --- two instances on one Redis ----------------------------------------------------------------


def test_two_instances_share_breakers_cooldowns_and_round_robin(redis_server: RedisServer) -> None:
    link_a, link_b = RedisLink(redis_server.url), RedisLink(redis_server.url)
    try:
        a = ResilienceState(store=RedisResilienceStore(link_a, namespace="pair"))
        b = ResilienceState(store=RedisResilienceStore(link_b, namespace="pair"))
        for i in range(12):  # apikey profile: 12 provider-level failures open the breaker
            a.record_failure(Target(f"k{i}", "openai", "gpt-4o"), FailureKind.SERVER, T0)
        verdict = b.available(A, T0 + 1)
        assert isinstance(verdict, Unavailable) and verdict.reason is Reason.BREAKER_OPEN
        assert b.available(A, T0 + 30) is True  # B takes the half-open probe slot …
        assert a.available(A, T0 + 30) == Unavailable(Reason.BREAKER_PROBING, None)  # … A sees it
        b.record_success(A, 120.0, T0 + 31)
        assert a.available(A, T0 + 31) is True
        a.record_failure(B, FailureKind.RATE_LIMITED, T0, retry_after=20)
        assert b.health(B, T0 + 1) == 0.0
        status = {c["connectionId"]: c["status"] for c in b.snapshot(T0)["connections"]}
        assert status["conn-b"] == "cooldown" and status["conn-a"] == "active"

        sa = RedisStrategyState(link_a, namespace="pair")
        sb = RedisStrategyState(link_b, namespace="pair")
        rng = random.Random(0)
        leads = [
            order_targets("round-robin", "combo", [A, B, C], s, rng, T0)[0]
            for s in (sa, sb) * 3
        ]
        assert leads == [A, B, C, A, B, C]
        sa.on_start("combo", A)
        sb.on_start("combo", A)
        sb.on_start("combo", B)
        assert order_targets("least-used", "combo", [A, B, C], sa, rng, T0) == [C, B, A]
        sa.on_finish("combo", A, ok=True, latency_ms=80.0)
        assert sb.last_good("combo") == A.key
        assert sb.stats([A.key, B.key]) == [(2, 1, 80.0), (1, 1, None)]
    finally:
        link_a.close()
        link_b.close()


def test_lockout_keys_expire_in_redis(link: RedisLink) -> None:
    store = RedisResilienceStore(link, namespace="ttl", grace_s=0.0)
    state = ResilienceState(store=store)
    state.record_failure(A, FailureKind.MODEL_NOT_FOUND, time.time(), retry_after=0.3)
    key = 'ttl:resilience:lockout:["conn-a","gpt-4o"]'
    assert 0 < link.client.pttl(key) <= 300
    deadline = time.monotonic() + 3
    while link.client.exists(key) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not link.client.exists(key)  # garbage-collected by Redis, nothing left behind
    state.record_failure(A, FailureKind.AUTH, time.time())
    assert link.client.pttl("ttl:resilience:connection:conn-a") == -1  # auth: until reset


# --- Redis going away mid-run ------------------------------------------------------------------


def _wait(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_outage_falls_back_with_one_warning_then_sharing_resumes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with RedisServer() as server:
        link_a = RedisLink(server.url, probe_interval_s=0.2)
        link_b = RedisLink(server.url, probe_interval_s=0.2)
        try:
            a = ResilienceState(store=RedisResilienceStore(link_a))
            b = ResilienceState(store=RedisResilienceStore(link_b))
            sa, sb = RedisStrategyState(link_a), RedisStrategyState(link_b)
            now = time.time()
            a.record_failure(A, FailureKind.RATE_LIMITED, now, retry_after=60)
            assert isinstance(b.available(A, now), Unavailable)  # shared, and B has seen it
            sa.on_start("combo", B)  # in flight in Redis when it goes away

            caplog.set_level(logging.INFO, logger="omniroute.shared")
            server.stop()
            rng = random.Random(1)
            for i in range(40):  # requests keep being served, all from local state
                order_targets("round-robin", "combo", [A, B, C], sa, rng, now)
                sa.stats([A.key, B.key])
                assert isinstance(a.available(A, now + i), Unavailable)  # cooldown remembered
                assert isinstance(b.available(A, now + i), Unavailable)
                a.available(C, now)
            assert not link_a.up and not link_b.up
            warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
            assert len(warnings) == 2  # one per instance, not one per operation
            # Written during the outage: a lockout on A, a usage count, the in-flight end.
            a.record_failure(C, FailureKind.MODEL_NOT_FOUND, now)
            sa.on_start("combo", A)
            sa.on_finish("combo", B, ok=True, latency_ms=50.0)

            server.start()  # same port, empty (no persistence): a restart
            assert _wait(lambda: link_a.up and link_b.up), "links did not come back"
            back = [r for r in caplog.records if "reachable again" in r.getMessage()]
            assert len(back) == 2
            # Pushed on recovery: the outage-time lockout, and (SET NX) the cooldown both knew.
            assert b.available(C, now + 1) == Unavailable(Reason.MODEL_LOCKED, pytest.approx(299, abs=2))
            assert isinstance(b.available(A, now + 1), Unavailable)
            usage_a, busy_b = sb.stats([A.key, B.key])[0][0], sb.stats([B.key])[0][1]
            assert usage_a == 1 and busy_b == 0
            # And sharing goes on both ways.
            b.record_failure(B, FailureKind.AUTH, now)
            assert a.available(B, now) == Unavailable(Reason.AUTH_FAILED, None)
            leads = [order_targets("round-robin", "x", [A, B], s, rng, now)[0] for s in (sa, sb)]
            assert leads == [A, B]
        finally:
            link_a.close()
            link_b.close()


# --- events between instances --------------------------------------------------------------


@pytest_asyncio.fixture(params=["memory", "redis"], loop_scope="function")
async def buses(request: pytest.FixtureRequest) -> AsyncIterator[tuple[EventBus, EventBus]]:
    if request.param == "memory":
        hub = InMemoryHub()
        pair: tuple[EventBus, EventBus] = (InMemoryEventBus(hub), InMemoryEventBus(hub))
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        ns = f"ev{uuid.uuid4().hex[:8]}"
        pair = (RedisEventBus(server.url, namespace=ns), RedisEventBus(server.url, namespace=ns))
    for bus in pair:
        await bus.start()
        if isinstance(bus, RedisEventBus):
            assert await bus.wait_connected()
    yield pair
    for bus in pair:
        await bus.aclose()


async def _eventually(predicate: Callable[[], bool], timeout: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


async def test_config_change_reaches_the_other_instance_within_a_second(
    buses: tuple[EventBus, EventBus],
) -> None:
    bus_a, bus_b = buses
    notifier_a, notifier_b = ConfigNotifier(bus_a), ConfigNotifier(bus_b)
    seen_a: list[str] = []
    seen_b: list[str] = []
    notifier_a.on_change(seen_a.append)
    notifier_b.on_change(seen_b.append)
    notifier_a.changed("providers")
    notifier_a.changed("combos")
    assert await _eventually(lambda: seen_b == ["providers", "combos"], timeout=1.0), seen_b
    notifier_b.changed("mappings")
    assert await _eventually(lambda: seen_a == ["mappings"], timeout=1.0), seen_a
    await asyncio.sleep(0.05)
    assert seen_b == ["providers", "combos"]  # nobody hears their own change


def _row(row_id: str, **changes: Any) -> InterceptedRequest:
    base: dict[str, Any] = {
        "id": row_id, "source": "agent-bridge", "method": "POST", "host": "api.openai.com",
        "path": "/v1/responses", "started_at": 1_767_225_600.25, "agent": "codex",
        "status": 200, "source_model": "gpt-5", "mapped_model": "main/gpt-4o",
        "request_body": '{"model":"gpt-5"}',
    }
    return InterceptedRequest(**{**base, **changes})


async def test_inspector_rows_cross_instances_without_echo(
    buses: tuple[EventBus, EventBus],
) -> None:
    ring_a, ring_b = Ring(100), Ring(100)
    bridge_a, bridge_b = InspectorEventBridge(buses[0], ring_a), InspectorEventBridge(buses[1], ring_b)
    await bridge_a.start()
    await bridge_b.start()
    live_b = ring_b.subscribe()
    assert (await live_b.get())["type"] == "snapshot"
    try:
        ring_a.add(_row("row-1", status="in-flight"))
        assert await _eventually(lambda: "row-1" in ring_b)
        ring_a.update("row-1", status=200, total_latency_ms=812.5)
        assert await _eventually(lambda: ring_b.get("row-1").status == 200)  # type: ignore[union-attr]
        got = ring_b.get("row-1")
        assert got is not None and got.mapped_model == "main/gpt-4o" and got.agent == "codex"
        assert got.total_latency_ms == 812.5
        kinds = [(await live_b.get())["type"] for _ in range(2)]
        assert kinds == ["new", "update"]  # B's UI socket saw A's call live
        ring_b.add(_row("row-2", host="api.anthropic.com"))
        assert await _eventually(lambda: "row-2" in ring_a)
        await asyncio.sleep(0.1)
        assert len(ring_a) == 2 and len(ring_b) == 2  # no echo, no duplicates
    finally:
        ring_b.unsubscribe(live_b)
        await bridge_a.aclose()
        await bridge_b.aclose()


async def test_event_bus_outage_warns_once_and_reloads_everything_after(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="omniroute.shared")
    with RedisServer() as server:
        bus_a = RedisEventBus(server.url, reconnect_interval_s=0.2)
        bus_b = RedisEventBus(server.url, reconnect_interval_s=0.2)
        notifier_b = ConfigNotifier(bus_b)
        seen: list[str] = []
        notifier_b.on_change(seen.append)
        notifier_a = ConfigNotifier(bus_a)
        for bus in (bus_a, bus_b):
            await bus.start()
            assert await bus.wait_connected()
        try:
            server.stop()
            assert await _eventually(lambda: not bus_a.connected.is_set(), timeout=5)
            for _ in range(20):
                notifier_a.changed("providers")  # dropped quietly, no exception, no log spam
            await asyncio.sleep(0.5)
            warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
            assert len(warnings) == 2  # one per instance
            server.start()
            assert await bus_a.wait_connected(10) and await bus_b.wait_connected(10)
            assert await _eventually(lambda: "*" in seen, timeout=2)  # missed: reload all
            seen.clear()
            notifier_a.changed("combos")
            assert await _eventually(lambda: seen == ["combos"], timeout=1)
        finally:
            await bus_a.aclose()
            await bus_b.aclose()


# --- the runtime's entry point -------------------------------------------------------------


async def test_open_shared_state_defaults_to_memory_and_reports_an_outage_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    local = open_shared_state(None)
    assert isinstance(local.strategy, InMemoryStrategyState)
    assert isinstance(local.resilience, InMemoryResilienceStore)
    assert isinstance(local.bus, InMemoryEventBus) and not local.shared

    caplog.set_level(logging.INFO, logger="omniroute.shared")
    nowhere = open_shared_state(f"redis://:secret-pw@127.0.0.1:{free_port()}/0")
    assert isinstance(nowhere.resilience, RedisResilienceStore) and nowhere.shared
    await nowhere.start()  # Redis is not there: the state link and the event bus both notice
    try:
        await asyncio.sleep(0.3)
        state = ResilienceState(store=nowhere.resilience)
        for _ in range(20):
            state.record_failure(A, FailureKind.SERVER, T0)
            assert order_targets("round-robin", "c", [A, B], nowhere.strategy, random.Random(), T0)
        nowhere.config.changed("providers")
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1, warnings  # one per process, whoever notices first
        assert "unreachable" in warnings[0] and "secret-pw" not in warnings[0]
        assert state.snapshot(T0)["connections"][0]["failures"] == 20  # served locally
    finally:
        await nowhere.aclose()


def test_micro_benchmark_redis_hot_path(link: RedisLink, capsys: pytest.CaptureFixture[str]) -> None:
    """Not a timed assertion: µs per engine operation on loopback Redis, for the report
    (compare with the in-memory numbers of tests/unit/engine/test_strategies.py)."""
    targets = [Target(f"conn-{i}", "openai", "gpt-4o", weight=i + 1) for i in range(5)]
    state = RedisStrategyState(link, namespace="bench")
    res = ResilienceState(store=RedisResilienceStore(link, namespace="bench"))
    rng = random.Random(0)
    for t in targets:
        res.record_success(t, 200.0, T0)

    def best_of(fn: Callable[[], object], n: int = 300) -> float:
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(n):
                fn()
            runs.append((time.perf_counter() - start) / n * 1e6)
        return min(runs)

    def attempt(name: str) -> Callable[[], object]:
        def run() -> None:
            for t in order_targets(name, "bench", targets, state, rng, T0, None, res):
                if res.available(t, T0):
                    state.on_start("bench", t)
                    state.on_finish("bench", t, ok=True, latency_ms=100.0)
                    res.record_success(t, 100.0, T0)
                    break

        return run

    lines = [f"PING round trip: {best_of(link.client.ping):.1f} µs"]
    lines.append(f"available(): {best_of(lambda: res.available(targets[0], T0)):.1f} µs")
    for name in ("priority", "round-robin", "least-used", "p2c"):
        lines.append(f"{name}, order + available + start/finish + record: "
                     f"{best_of(attempt(name)):.1f} µs")
    with capsys.disabled():
        print("\n[shared-state micro-benchmark: loopback redis-server, 5 targets]")
        print("\n".join(lines))
