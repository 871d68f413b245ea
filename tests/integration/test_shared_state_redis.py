"""Shared state on a real redis-server: two instances on one Redis, keys that expire, a Redis
outage mid-run, and the hot path's cost on loopback Redis."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import pytest

from omniroute.config import Settings
from omniroute.engine.failures import FailureKind
from omniroute.engine.resilience import Reason, ResilienceState, Unavailable
from omniroute.engine.strategies import order_targets
from omniroute.engine.targets import Target
from omniroute.shared.link import RedisLink
from omniroute.shared.redis_state import RedisResilienceStore, RedisStrategyState
from omniroute.shared.state import open_shared_state
from tests.support.servers import RedisServer

from .shared_state_fixtures import (
    T0,
    A,
    B,
    C,
    link_fixture,  # noqa: F401 (a fixture, used by name)
    redis_server_fixture,  # noqa: F401 (a fixture, used by name)
)

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


def test_the_redis_timeout_setting_reaches_the_link(redis_server: RedisServer,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIROUTE_REDIS_TIMEOUT_S", "1.5")
    settings = Settings(redis_url=redis_server.url)
    shared = open_shared_state(settings.redis_url, timeout_s=settings.redis_timeout_s)
    assert shared.link is not None
    try:
        kwargs = shared.link.client.connection_pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (1.5, 1.5)
        assert shared.link.call(lambda r: r.ping(), lambda: False) is True
    finally:
        shared.link.close()
