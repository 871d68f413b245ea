"""Resilience state's data: breaker/cooldown profiles, records, and the storage Protocol.

Kept apart from the decision logic in `resilience.py` so a shared (Redis) store can
implement `ResilienceStore` without importing the state machine.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from omniroute.engine.targets import TargetKey

class BreakerState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class Reason(StrEnum):
    AUTH_FAILED = "auth_failed"
    COOLDOWN = "cooldown"
    MODEL_LOCKED = "model_locked"
    BREAKER_OPEN = "breaker_open"
    BREAKER_PROBING = "breaker_probing"  # half-open and its probe slots are taken


@dataclass(frozen=True, slots=True)
class Unavailable:
    """Why a target may not be tried now. Falsy, so ``if state.available(t, now):`` reads right."""

    reason: Reason
    retry_in: float | None  # seconds until it may clear; None: needs a credential/operator fix

    def __bool__(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class BreakerProfile:
    failure_threshold: int
    reset_timeout_s: float
    degradation_threshold: int  # only reported ("degraded" early warning), never blocks
    half_open_probes: int = 1


@dataclass(frozen=True, slots=True)
class CooldownProfile:
    base_cooldown_s: float
    max_backoff_steps: int
    use_upstream_retry_hints: bool = True
    rate_limit_cooldown_s: float = 0.0  # fixed 429 cooldown when hints are off; 0 = backoff


# Defaults of the OmniRoute API specification (PROVIDER_PROFILES): oauth / apikey / local.
DEFAULT_BREAKERS: Mapping[str, BreakerProfile] = MappingProxyType(
    {
        "oauth": BreakerProfile(8, 60.0, 5),
        "apikey": BreakerProfile(12, 30.0, 7),
        "local": BreakerProfile(2, 15.0, 2),
    }
)
DEFAULT_COOLDOWNS: Mapping[str, CooldownProfile] = MappingProxyType(
    {
        "oauth": CooldownProfile(5.0, 8, False, 60.0),
        "apikey": CooldownProfile(3.0, 5, True, 0.0),
        "local": CooldownProfile(2.0, 3, False, 5.0),
    }
)


@dataclass(frozen=True, slots=True)
class ResilienceConfig:
    breakers: Mapping[str, BreakerProfile] = field(default_factory=lambda: dict(DEFAULT_BREAKERS))
    cooldowns: Mapping[str, CooldownProfile] = field(
        default_factory=lambda: dict(DEFAULT_COOLDOWNS)
    )
    # provider → profile name; anything not listed is an API-key provider.
    provider_profiles: Mapping[str, str] = field(default_factory=lambda: {"ollama": "local"})
    model_lockout_s: float = 300.0
    max_cooldown_s: float = 86_400.0  # sanity cap on absurd Retry-After values
    latency_alpha: float = 0.3  # EWMA weight of the newest latency sample

    def profile_of(self, provider: str) -> str:
        return self.provider_profiles.get(provider, "apikey")


@dataclass(slots=True)
class BreakerRecord:
    profile: str
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probes: int = 0
    probe_started_at: float = 0.0
    last_failure_at: float | None = None
    last_failure_kind: str | None = None


@dataclass(slots=True)
class ConnectionRecord:
    provider: str
    cooldown_until: float = 0.0
    backoff_level: int = 0
    auth_failed: bool = False
    last_failure_kind: str | None = None
    last_failure_at: float | None = None
    latency_ms: float | None = None  # EWMA of successful calls
    successes: int = 0
    failures: int = 0


@dataclass(slots=True)
class LockoutRecord:
    provider: str
    until: float
    reason: str


class ResilienceStore(Protocol):
    """Storage only; every decision is made in ``ResilienceState``. Records read from a
    mapping are mutated and then assigned back, so a shared (Redis) mapping sees each write."""

    @property
    def breakers(self) -> MutableMapping[str, BreakerRecord]: ...  # breaker key → record
    @property
    def connections(self) -> MutableMapping[str, ConnectionRecord]: ...  # connection id →
    @property
    def lockouts(self) -> MutableMapping[TargetKey, LockoutRecord]: ...  # (conn id, model) →


@dataclass(slots=True)
class InMemoryResilienceStore:
    breakers: dict[str, BreakerRecord] = field(default_factory=dict)
    connections: dict[str, ConnectionRecord] = field(default_factory=dict)
    lockouts: dict[TargetKey, LockoutRecord] = field(default_factory=dict)
