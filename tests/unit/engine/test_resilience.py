from __future__ import annotations

import pytest

from omniroute.engine.failures import FailureKind, classify_status
from omniroute.engine.resilience import (
    BreakerProfile,
    BreakerState,
    ResilienceConfig,
    ResilienceState,
    Reason,
    Unavailable,
)
from omniroute.engine.targets import Target

T0 = 1_700_000_000.0
A = Target("conn-a", "openai", "gpt-4o")
A2 = Target("conn-a2", "openai", "gpt-4o")  # another key of the same provider
B = Target("conn-b", "anthropic", "claude-sonnet-4")
LOCAL = Target("conn-l", "ollama", "llama3.3")


def reason(verdict: object) -> Reason | None:
    return verdict.reason if isinstance(verdict, Unavailable) else None


def retry_in(verdict: object) -> float | None:
    return verdict.retry_in if isinstance(verdict, Unavailable) else None


def breaker(state: ResilienceState, provider: str) -> dict[str, object]:
    return next(b for b in state.snapshot(T0)["breakers"] if b["provider"] == provider)


def trip(state: ResilienceState, target: Target, times: int, now: float) -> None:
    """Provider-level failures on different keys, so only the breaker (not one cooldown) acts."""
    for i in range(times):
        key = Target(f"{target.connection_id}-{i}", target.provider, target.model)
        state.record_failure(key, FailureKind.SERVER, now)


def test_defaults_follow_the_api_specification() -> None:
    snap = ResilienceState().snapshot(T0)
    assert snap["providerBreaker"]["apikey"] == {
        "failureThreshold": 12,
        "resetTimeoutMs": 30_000,
        "degradationThreshold": 7,
        "halfOpenRequests": 1,
    }
    assert snap["providerBreaker"]["oauth"]["failureThreshold"] == 8
    assert snap["providerBreaker"]["local"]["resetTimeoutMs"] == 15_000
    assert snap["connectionCooldown"]["apikey"]["baseCooldownMs"] == 3_000
    assert snap["connectionCooldown"]["oauth"]["baseCooldownMs"] == 5_000


def test_breaker_opens_at_threshold_and_rejects_while_open() -> None:
    state = ResilienceState()
    trip(state, A, 11, T0)
    assert state.available(A, T0) is True
    assert breaker(state, "openai")["degraded"] is True  # early warning past 7
    trip(state, A, 1, T0)
    verdict = state.available(A, T0 + 1)
    assert isinstance(verdict, Unavailable) and not verdict
    assert verdict.reason is Reason.BREAKER_OPEN
    assert verdict.retry_in == pytest.approx(29.0)
    assert retry_in(state.available(A2, T0 + 29)) == pytest.approx(1.0)
    assert state.available(B, T0 + 1) is True  # other providers are unaffected
    assert breaker(state, "openai")["state"] == "OPEN"


def test_half_open_after_timeout_single_probe_then_closes_on_success() -> None:
    state = ResilienceState()
    trip(state, A, 12, T0)
    later = T0 + 30
    assert state.available(A, later) is True  # the probe
    assert state.available(A2, later) == Unavailable(Reason.BREAKER_PROBING, None)
    assert breaker(state, "openai")["state"] == "HALF_OPEN"
    state.record_success(A, 250.0, later + 1)
    assert breaker(state, "openai")["state"] == "CLOSED"
    assert breaker(state, "openai")["failureCount"] == 0
    assert state.available(A2, later + 1) is True


def test_failed_probe_reopens_for_a_full_timeout() -> None:
    state = ResilienceState()
    trip(state, A, 12, T0)
    probe_at = T0 + 31
    assert state.available(A, probe_at) is True
    state.record_failure(A, FailureKind.TIMEOUT, probe_at + 2)
    assert reason(state.available(A2, probe_at + 3)) is Reason.BREAKER_OPEN
    assert reason(state.available(A2, probe_at + 2 + 29.9)) is Reason.BREAKER_OPEN
    assert state.available(A2, probe_at + 2 + 30) is True


def test_probe_slot_is_freed_if_its_outcome_is_never_recorded() -> None:
    state = ResilienceState()
    trip(state, A, 12, T0)
    assert state.available(A, T0 + 30) is True
    assert not state.available(A2, T0 + 31)
    assert state.available(A2, T0 + 60) is True


def test_key_and_model_errors_do_not_trip_the_breaker() -> None:
    state = ResilienceState()
    for i in range(50):
        t = Target(f"k{i}", "openai", "gpt-4o")
        for kind in (FailureKind.AUTH, FailureKind.QUOTA, FailureKind.RATE_LIMITED):
            state.record_failure(t, kind, T0)
        state.record_failure(t, FailureKind.MODEL_NOT_FOUND, T0)
        state.record_failure(t, FailureKind.CLIENT, T0)
    assert breaker_state_or_none(state, "openai") is None


def breaker_state_or_none(state: ResilienceState, provider: str) -> object:
    found = [b for b in state.snapshot(T0)["breakers"] if b["provider"] == provider]
    return found[0]["state"] if found else None


def test_classification_decides_if_a_5xx_trips() -> None:
    state = ResilienceState()
    c501 = classify_status(501, now=T0)
    assert c501 is not None and not c501.trips_breaker
    for i in range(20):
        t = Target(f"k{i}", "openai", "gpt-4o")
        state.record_failure(t, c501.kind, T0, c501.retry_after, trips_breaker=c501.trips_breaker)
    assert breaker_state_or_none(state, "openai") is None


def test_local_profile_opens_after_two() -> None:
    state = ResilienceState()
    state.record_failure(LOCAL, FailureKind.CONNECT, T0)
    state.reset("cooldowns")
    assert state.available(LOCAL, T0) is True
    state.record_failure(LOCAL, FailureKind.CONNECT, T0)
    state.reset("cooldowns")
    assert reason(state.available(LOCAL, T0 + 14)) is Reason.BREAKER_OPEN
    assert state.available(LOCAL, T0 + 15) is True


def test_cooldown_exponential_backoff_capped_and_skip_then_return() -> None:
    state = ResilienceState()  # apikey: base 3 s, max 5 steps → cap 96 s
    now, durations = T0, []
    for _ in range(8):
        state.record_failure(A, FailureKind.SERVER, now)
        verdict = state.available(A, now)
        assert isinstance(verdict, Unavailable) and verdict.reason is Reason.COOLDOWN
        assert verdict.retry_in is not None
        durations.append(verdict.retry_in)
        now += verdict.retry_in
        assert state.available(A, now) is True  # back once the cooldown is over
    assert durations == [3, 6, 12, 24, 48, 96, 96, 96]
    state.record_success(A, 100.0, now)
    state.record_failure(A, FailureKind.SERVER, now)
    assert retry_in(state.available(A, now)) == 3


def test_cooldown_is_per_connection() -> None:
    state = ResilienceState()
    state.record_failure(A, FailureKind.RATE_LIMITED, T0)
    assert not state.available(A, T0 + 1)
    assert state.available(A2, T0 + 1) is True


def test_retry_after_is_honoured_for_rate_limits() -> None:
    state = ResilienceState()
    state.record_failure(A, FailureKind.RATE_LIMITED, T0, retry_after=42)
    assert reason(state.available(A, T0 + 41.9)) is Reason.COOLDOWN
    assert state.available(A, T0 + 42) is True


def test_concurrent_failures_do_not_double_escalate() -> None:
    state = ResilienceState()
    state.record_failure(A, FailureKind.SERVER, T0)
    state.record_failure(A, FailureKind.SERVER, T0 + 0.1)  # in-flight request failing late
    state.record_failure(A, FailureKind.SERVER, T0 + 0.2)
    assert state.available(A, T0 + 3) is True
    assert state.snapshot(T0)["connections"][0]["backoffLevel"] == 1


def test_quota_cools_down_at_the_longest_step() -> None:
    state = ResilienceState()
    state.record_failure(A, FailureKind.QUOTA, T0)
    assert retry_in(state.available(A, T0)) == 96


def test_auth_failed_stays_until_reset() -> None:
    state = ResilienceState()
    state.record_failure(A, FailureKind.AUTH, T0)
    assert state.available(A, T0 + 1e6) == Unavailable(Reason.AUTH_FAILED, None)
    assert state.snapshot(T0)["connections"][0]["status"] == "auth_failed"
    assert state.reset("auth", connection_id="conn-a") == 1
    assert state.available(A, T0) is True


def test_model_lockout_is_per_connection_and_model() -> None:
    state = ResilienceState()
    state.record_failure(A, FailureKind.MODEL_NOT_FOUND, T0)
    other_model = Target("conn-a", "openai", "gpt-4o-mini")
    assert reason(state.available(A, T0 + 1)) is Reason.MODEL_LOCKED
    assert state.available(other_model, T0 + 1) is True
    assert state.available(A2, T0 + 1) is True
    lockouts = state.snapshot(T0 + 1)["modelLockouts"]
    assert lockouts == [
        {
            "provider": "openai",
            "connectionId": "conn-a",
            "model": "gpt-4o",
            "reason": "model_not_found",
            "until": "2023-11-14T22:18:20Z",
            "remainingMs": 299_000,
        }
    ]
    assert state.available(A, T0 + 300) is True
    assert state.snapshot(T0 + 300)["modelLockouts"] == []


def test_lockouts_sorted_by_remaining_and_cleared_by_provider_model() -> None:
    state = ResilienceState()
    state.record_failure(A, FailureKind.MODEL_NOT_FOUND, T0, retry_after=100)
    state.record_failure(B, FailureKind.MODEL_NOT_FOUND, T0, retry_after=10)
    assert [x["connectionId"] for x in state.snapshot(T0)["modelLockouts"]] == ["conn-b", "conn-a"]
    assert state.reset("lockouts", provider="openai", model="gpt-4o") == 1
    assert state.available(A, T0) is True and not state.available(B, T0)


def test_reset_breakers_only() -> None:
    state = ResilienceState()
    trip(state, A, 12, T0)
    state.record_failure(B, FailureKind.RATE_LIMITED, T0)
    assert state.reset("breakers") == 1
    assert state.available(A, T0) is True
    assert not state.available(B, T0)
    assert state.reset() == 13  # the cooldowns left: B and the 12 keys trip() failed on
    assert state.available(B, T0) is True


def test_health_and_latency_for_auto() -> None:
    state = ResilienceState()
    assert state.health(A, T0) == 1.0 and state.latency_ms(A) is None
    state.record_success(A, 100.0, T0)
    state.record_success(A, 200.0, T0)
    assert state.latency_ms(A) == pytest.approx(130.0)  # EWMA, alpha 0.3
    trip(state, A, 6, T0)
    assert state.health(A, T0) == pytest.approx(0.75)
    trip(state, A, 6, T0)
    assert state.health(A, T0) == 0.0
    assert state.health(A, T0 + 30) == 0.5  # would be half-open; reading takes no probe slot
    assert state.available(A, T0 + 30) is True


def test_breaker_key_can_separate_openai_compatible_upstreams() -> None:
    groq = Target("g", "openai-compatible", "llama")
    deepseek = Target("d", "openai-compatible", "deepseek-chat")
    groq_key2 = Target("g2", "openai-compatible", "llama")
    hosts = {"g": "api.groq.com", "g2": "api.groq.com", "d": "api.deepseek.com"}
    state = ResilienceState(
        ResilienceConfig(breakers={"apikey": BreakerProfile(2, 10.0, 1)}),
        breaker_key=lambda t: hosts[t.connection_id],
    )
    state.record_failure(groq, FailureKind.SERVER, T0)
    state.record_failure(groq, FailureKind.SERVER, T0 + 10)  # after its cooldown
    assert reason(state.available(groq_key2, T0 + 15)) is Reason.BREAKER_OPEN
    assert state.available(deepseek, T0 + 15) is True
    assert {b["provider"] for b in state.snapshot(T0)["breakers"]} == {"api.groq.com"}


def test_snapshot_uses_the_injected_clock() -> None:
    state = ResilienceState(clock=lambda: T0 + 1)
    state.record_failure(A, FailureKind.RATE_LIMITED, T0, retry_after=10)
    conn = state.snapshot()["connections"][0]
    assert conn["status"] == "cooldown" and conn["remainingMs"] == 9_000
    assert conn["rateLimitedUntil"] == "2023-11-14T22:13:30Z"
    assert BreakerState.CLOSED.value == "CLOSED"
