"""Provider circuit breaker, connection cooldown, model lockout and auth-failed marking.

Three scopes, kept apart as in the OmniRoute API specification ("Resilience Runtime State"):

* provider breaker (whole provider): CLOSED → OPEN after ``failure_threshold`` provider-level
  failures; OPEN → HALF_OPEN once ``reset_timeout`` has elapsed (lazily, on the next read —
  there is no timer); HALF_OPEN lets ``half_open_probes`` requests through; a success closes
  it, a provider-level failure opens it again.
* connection cooldown (one key/account): ``base * 2**level`` seconds, level capped at
  ``max_backoff_steps``; an upstream Retry-After is preferred when given. 401 marks the
  connection auth-failed until reset or a success.
* model lockout (connection + model) after a 404, so the connection still serves other models.

All methods take ``now`` (epoch seconds) so tests drive time; storage sits behind
``ResilienceStore`` so a shared (Redis) store can replace the in-memory one. Not thread-safe:
it lives on the single event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from omniroute.engine.failures import FailureKind
from omniroute.engine.resilience_model import (
    BreakerState,
    Reason,
    Unavailable,
    BreakerProfile,
    CooldownProfile,
    DEFAULT_BREAKERS,
    DEFAULT_COOLDOWNS,
    ResilienceConfig,
    BreakerRecord,
    ConnectionRecord,
    LockoutRecord,
    ResilienceStore,
    InMemoryResilienceStore,
)
from omniroute.engine.targets import Target


# Failures that say something about the whole provider rather than one key or one model.
_PROVIDER_LEVEL = frozenset(
    {FailureKind.TIMEOUT, FailureKind.SERVER, FailureKind.CONNECT, FailureKind.RESET}
)
ResetScope = Literal["breakers", "cooldowns", "auth", "lockouts"]


class ResilienceState:
    def __init__(
        self,
        config: ResilienceConfig | None = None,
        store: ResilienceStore | None = None,
        *,
        breaker_key: Callable[[Target], str] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``breaker_key`` names the breaker scope of a target (default: ``target.provider``);
        pass e.g. the upstream host so two openai-compatible providers do not share one.
        ``clock`` is only used by ``snapshot()`` when no ``now`` is given."""
        self.config = config or ResilienceConfig()
        self.store: ResilienceStore = store if store is not None else InMemoryResilienceStore()
        self._breaker_key = breaker_key
        self._clock = clock

    # --- hot path ---------------------------------------------------------------------------

    def available(self, target: Target, now: float) -> Literal[True] | Unavailable:
        """May ``target`` be attempted now? Call it right before the attempt: in HALF_OPEN a
        True answer takes a probe slot, given back by ``record_success``/``record_failure``
        (or after ``reset_timeout`` if the outcome is never recorded)."""
        store = self.store
        conn = store.connections.get(target.connection_id)
        if conn is not None:
            if conn.auth_failed:
                return Unavailable(Reason.AUTH_FAILED, None)
            if conn.cooldown_until > now:
                return Unavailable(Reason.COOLDOWN, conn.cooldown_until - now)
        key = (target.connection_id, target.model)
        lock = store.lockouts.get(key)
        if lock is not None:
            if lock.until > now:
                return Unavailable(Reason.MODEL_LOCKED, lock.until - now)
            store.lockouts.pop(key, None)
        pkey = self._breaker_key(target) if self._breaker_key else target.provider
        br = store.breakers.get(pkey)
        if br is None or br.state is BreakerState.CLOSED:
            return True
        prof = self._breaker_profile(br.profile)
        if br.state is BreakerState.OPEN:
            if now - br.opened_at < prof.reset_timeout_s:
                return Unavailable(Reason.BREAKER_OPEN, br.opened_at + prof.reset_timeout_s - now)
            br.state, br.probes = BreakerState.HALF_OPEN, 0
        elif br.probes and now - br.probe_started_at >= prof.reset_timeout_s:
            br.probes = 0  # probe outcomes never recorded: do not stay wedged in HALF_OPEN
        if br.probes >= prof.half_open_probes:
            store.breakers[pkey] = br
            return Unavailable(Reason.BREAKER_PROBING, None)
        br.probes += 1
        br.probe_started_at = now
        store.breakers[pkey] = br
        return True

    def record_success(self, target: Target, latency_ms: float | None, now: float) -> None:
        store = self.store
        conn = store.connections.get(target.connection_id)
        if conn is None:
            conn = ConnectionRecord(target.provider)
        conn.cooldown_until, conn.backoff_level, conn.auth_failed = 0.0, 0, False
        conn.successes += 1
        if latency_ms is not None:
            prev, alpha = conn.latency_ms, self.config.latency_alpha
            conn.latency_ms = latency_ms if prev is None else prev + alpha * (latency_ms - prev)
        store.connections[target.connection_id] = conn
        key = (target.connection_id, target.model)
        if store.lockouts.get(key) is not None:
            store.lockouts.pop(key, None)
        pkey = self._breaker_key(target) if self._breaker_key else target.provider
        br = store.breakers.get(pkey)
        if br is not None:
            self._breaker_answered(br, success=True)
            store.breakers[pkey] = br

    def record_failure(
        self,
        target: Target,
        kind: FailureKind,
        now: float,
        retry_after: float | None = None,
        *,
        trips_breaker: bool | None = None,
    ) -> None:
        """Record a failed attempt. ``trips_breaker`` defaults to "is this a provider-level
        kind"; pass ``Classification.trips_breaker`` to be exact (e.g. a 501 does not trip)."""
        if trips_breaker is None:
            trips_breaker = kind in _PROVIDER_LEVEL
        store, cfg = self.store, self.config
        pkey = self._breaker_key(target) if self._breaker_key else target.provider
        br = store.breakers.get(pkey)
        if trips_breaker:
            if br is None:
                br = BreakerRecord(cfg.profile_of(target.provider))
            self._breaker_failed(br, kind, now)
            store.breakers[pkey] = br
        elif br is not None and br.state is BreakerState.HALF_OPEN:
            # The provider answered (a 4xx/429): it is up, whatever is wrong is key- or
            # request-specific, so a probe that got this far closes the breaker.
            self._breaker_answered(br, success=False)
            store.breakers[pkey] = br
        if kind is FailureKind.CLIENT:
            return  # the request was wrong, not the connection
        if kind is FailureKind.MODEL_NOT_FOUND:
            until = now + min(retry_after or cfg.model_lockout_s, cfg.max_cooldown_s)
            lock = LockoutRecord(target.provider, until, kind.value)
            store.lockouts[(target.connection_id, target.model)] = lock
            return
        conn = store.connections.get(target.connection_id)
        if conn is None:
            conn = ConnectionRecord(target.provider)
        conn.failures += 1
        conn.last_failure_kind, conn.last_failure_at = kind.value, now
        if kind is FailureKind.AUTH:
            conn.auth_failed = True
        else:
            self._cool_down(conn, kind, now, retry_after)
        store.connections[target.connection_id] = conn

    # --- read side ----------------------------------------------------------------------------

    def health(self, target: Target, now: float) -> float:
        """1.0 healthy … 0.0 unusable, without side effects (no probe slot is taken).
        CLOSED scales down with the failure count, HALF_OPEN is 0.5
        (the specification's auto-combo scoring)."""
        conn = self.store.connections.get(target.connection_id)
        if conn is not None and (conn.auth_failed or conn.cooldown_until > now):
            return 0.0
        lock = self.store.lockouts.get((target.connection_id, target.model))
        if lock is not None and lock.until > now:
            return 0.0
        pkey = self._breaker_key(target) if self._breaker_key else target.provider
        br = self.store.breakers.get(pkey)
        if br is None:
            return 1.0
        prof = self._breaker_profile(br.profile)
        if br.state is BreakerState.CLOSED:
            return 1.0 - 0.5 * min(br.failures, prof.failure_threshold) / prof.failure_threshold
        if br.state is BreakerState.OPEN and now - br.opened_at < prof.reset_timeout_s:
            return 0.0
        return 0.5

    def latency_ms(self, target: Target) -> float | None:
        conn = self.store.connections.get(target.connection_id)
        return None if conn is None else conn.latency_ms

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """Settings (the specification's ``/api/resilience`` keys) plus live state; lockouts sorted by
        remaining time as ``/api/resilience/model-cooldowns`` lists them."""
        if now is None:
            now = self._clock() if self._clock else 0.0
        cfg = self.config
        breakers = []
        for provider, br in sorted(self.store.breakers.items(), key=lambda item: item[0]):
            prof = self._breaker_profile(br.profile)
            state = br.state
            retry_ms = 0
            if state is BreakerState.OPEN:
                remaining = br.opened_at + prof.reset_timeout_s - now
                state = BreakerState.OPEN if remaining > 0 else BreakerState.HALF_OPEN
                retry_ms = max(0, round(remaining * 1000))
            breakers.append(
                {
                    "provider": provider,
                    "state": state.value,
                    "degraded": state is BreakerState.CLOSED
                    and br.failures >= prof.degradation_threshold,
                    "failureCount": br.failures,
                    "failureThreshold": prof.failure_threshold,
                    "lastFailureTime": _ms(br.last_failure_at),
                    "lastFailureKind": br.last_failure_kind,
                    "retryAfterMs": retry_ms,
                }
            )
        connections = [
            {
                "connectionId": cid,
                "provider": conn.provider,
                "status": "auth_failed"
                if conn.auth_failed
                else ("cooldown" if conn.cooldown_until > now else "active"),
                "rateLimitedUntil": (
                    _iso(conn.cooldown_until) if conn.cooldown_until > now else None
                ),
                "remainingMs": max(0, round((conn.cooldown_until - now) * 1000)),
                "backoffLevel": conn.backoff_level,
                "lastErrorType": conn.last_failure_kind,
                "lastErrorTime": _ms(conn.last_failure_at),
                "latencyMs": None if conn.latency_ms is None else round(conn.latency_ms, 1),
                "successes": conn.successes,
                "failures": conn.failures,
            }
            for cid, conn in sorted(self.store.connections.items(), key=lambda item: item[0])
        ]
        lockouts = [
            {
                "provider": lock.provider,
                "connectionId": key[0],
                "model": key[1],
                "reason": lock.reason,
                "until": _iso(lock.until),
                "remainingMs": round((lock.until - now) * 1000),
            }
            for key, lock in sorted(self.store.lockouts.items(), key=lambda item: item[1].until)
            if lock.until > now
        ]
        return {
            "connectionCooldown": {
                name: {
                    "baseCooldownMs": round(p.base_cooldown_s * 1000),
                    "useUpstreamRetryHints": p.use_upstream_retry_hints,
                    "maxBackoffSteps": p.max_backoff_steps,
                    "rateLimitCooldownMs": round(p.rate_limit_cooldown_s * 1000),
                }
                for name, p in cfg.cooldowns.items()
            },
            "providerBreaker": {
                name: {
                    "failureThreshold": p.failure_threshold,
                    "resetTimeoutMs": round(p.reset_timeout_s * 1000),
                    "degradationThreshold": p.degradation_threshold,
                    "halfOpenRequests": p.half_open_probes,
                }
                for name, p in cfg.breakers.items()
            },
            "modelLockout": {"durationMs": round(cfg.model_lockout_s * 1000)},
            "breakers": breakers,
            "connections": connections,
            "modelLockouts": lockouts,
        }

    def reset(
        self,
        scope: ResetScope | None = None,
        *,
        provider: str | None = None,
        connection_id: str | None = None,
        model: str | None = None,
    ) -> int:
        """Clear state; ``scope=None`` clears every kind. Filters narrow it (``provider``
        applies to breakers and lockouts, ``connection_id``/``model`` to their scopes).
        Returns how many entries were cleared."""
        store, cleared = self.store, 0
        if scope in (None, "breakers") and connection_id is None and model is None:
            for name, br in list(store.breakers.items()):
                dirty = br.state is not BreakerState.CLOSED or br.failures
                if provider in (None, name) and dirty:
                    store.breakers[name] = BreakerRecord(br.profile)
                    cleared += 1
        if scope in (None, "cooldowns", "auth") and model is None:
            for cid, conn in list(store.connections.items()):
                if connection_id not in (None, cid) or provider not in (None, conn.provider):
                    continue
                hit = False
                if scope != "auth" and (conn.cooldown_until or conn.backoff_level):
                    conn.cooldown_until, conn.backoff_level, hit = 0.0, 0, True
                if scope != "cooldowns" and conn.auth_failed:
                    conn.auth_failed, hit = False, True
                if hit:
                    store.connections[cid] = conn
                    cleared += 1
        if scope in (None, "lockouts"):
            for key, lock in list(store.lockouts.items()):
                if (
                    connection_id in (None, key[0])
                    and model in (None, key[1])
                    and provider in (None, lock.provider)
                ):
                    store.lockouts.pop(key, None)
                    cleared += 1
        return cleared

    # --- internals ----------------------------------------------------------------------------

    def _breaker_profile(self, name: str) -> BreakerProfile:
        profiles = self.config.breakers
        return profiles.get(name) or profiles["apikey"]

    def _breaker_failed(self, br: BreakerRecord, kind: FailureKind, now: float) -> None:
        br.last_failure_at, br.last_failure_kind = now, kind.value
        if br.state is BreakerState.HALF_OPEN:
            br.state, br.opened_at, br.probes = BreakerState.OPEN, now, 0
        elif br.state is BreakerState.CLOSED:
            br.failures += 1
            if br.failures >= self._breaker_profile(br.profile).failure_threshold:
                br.state, br.opened_at = BreakerState.OPEN, now
        # Already OPEN: a late failure of a request sent before it opened; the timer stands.

    @staticmethod
    def _breaker_answered(br: BreakerRecord, *, success: bool) -> None:
        if br.state is BreakerState.CLOSED:
            if success and br.failures:
                br.failures -= 1  # gradual recovery, as the reference breaker does
            return
        br.state, br.failures, br.probes = BreakerState.CLOSED, 0, 0

    def _cool_down(
        self, conn: ConnectionRecord, kind: FailureKind, now: float, retry_after: float | None
    ) -> None:
        cfg = self.config
        prof = cfg.cooldowns.get(cfg.profile_of(conn.provider)) or cfg.cooldowns["apikey"]
        hint = retry_after if retry_after is not None and prof.use_upstream_retry_hints else None
        if conn.cooldown_until > now and kind is not FailureKind.QUOTA:
            # A concurrent request failed on an already cooling connection: no double
            # escalation (anti-thundering-herd), only honour a longer explicit hint.
            if hint is not None:
                conn.cooldown_until = max(conn.cooldown_until, now + min(hint, cfg.max_cooldown_s))
            return
        # Quota does not come back in seconds: go straight to the longest backoff step.
        level = prof.max_backoff_steps if kind is FailureKind.QUOTA else conn.backoff_level
        level = min(level, prof.max_backoff_steps)
        if hint is not None:
            duration = hint
        elif kind is FailureKind.RATE_LIMITED and prof.rate_limit_cooldown_s > 0:
            duration = prof.rate_limit_cooldown_s
        else:
            duration = prof.base_cooldown_s * (1 << level)
        conn.cooldown_until = now + min(duration, cfg.max_cooldown_s)
        conn.backoff_level = min(level + 1, prof.max_backoff_steps)


def _ms(ts: float | None) -> int | None:
    return None if ts is None else round(ts * 1000)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


# The data types are defined in resilience_model; importing them from here keeps working.
__all__ = [
    "BreakerProfile",
    "BreakerRecord",
    "BreakerState",
    "ConnectionRecord",
    "CooldownProfile",
    "DEFAULT_BREAKERS",
    "DEFAULT_COOLDOWNS",
    "InMemoryResilienceStore",
    "LockoutRecord",
    "Reason",
    "ResetScope",
    "ResilienceConfig",
    "ResilienceState",
    "ResilienceStore",
    "Unavailable",
]
