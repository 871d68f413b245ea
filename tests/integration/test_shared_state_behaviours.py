"""The engine's strategy and resilience behaviours on a real redis-server: the unit tests of
the in-memory stores, run again on both implementations."""

from __future__ import annotations

import importlib.util
import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from omniroute.engine.failures import FailureKind
from omniroute.engine.resilience import ResilienceState
from omniroute.engine.resilience_model import InMemoryResilienceStore
from omniroute.engine.strategies import InMemoryStrategyState, StrategyStateStore
from omniroute.shared.link import RedisLink
from omniroute.shared.redis_state import RedisResilienceStore, RedisStrategyState

from .shared_state_fixtures import (
    T0,
    A,
    link_fixture,  # noqa: F401 (a fixture, used by name)
    redis_server_fixture,  # noqa: F401 (a fixture, used by name)
)

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

