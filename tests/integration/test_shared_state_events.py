"""Events between instances (config changes, inspector rows) in memory and over a real
redis-server, an event-bus outage, and the runtime's ``open_shared_state`` entry point."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from omniroute.engine.failures import FailureKind
from omniroute.engine.resilience import ResilienceState
from omniroute.engine.resilience_model import InMemoryResilienceStore
from omniroute.engine.strategies import InMemoryStrategyState, order_targets
from omniroute.inspector.model import InterceptedRequest
from omniroute.inspector.ring import Ring
from omniroute.shared.events import (
    ConfigNotifier,
    EventBus,
    InMemoryEventBus,
    InMemoryHub,
    InspectorEventBridge,
)
from omniroute.shared.redis_events import RedisEventBus
from omniroute.shared.redis_state import RedisResilienceStore
from omniroute.shared.state import open_shared_state
from tests.support.harness import free_port
from tests.support.servers import RedisServer

from .shared_state_fixtures import (
    T0,
    A,
    B,
    redis_server_fixture,  # noqa: F401 (a fixture, used by name)
)

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

