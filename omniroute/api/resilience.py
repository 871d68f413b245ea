"""Resilience: `/api/resilience` (breaker / cooldown / lockout settings and live state) and
`/api/resilience/reset`.

Settings use the OmniRoute API specification's names and milliseconds.
A PATCH is validated as a whole, applied to
the running engine at once (open breakers re-read their profile on the next request) and
kept in the KeyValue row `resilience_config`, re-applied at every start.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from omniroute.api.deps import RouterDep, StoreDep, SyncDep
from omniroute.api.management import invalid, refuse_config_entry
from omniroute.engine.resilience import (
    BreakerProfile,
    CooldownProfile,
    ResilienceConfig,
    ResilienceState,
)
from omniroute.engine.router import Router

router = APIRouter(prefix="/api/resilience", tags=["System"])

SETTING = "resilience_config"


class BreakerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    failureThreshold: int | None = Field(default=None, ge=1, le=10_000)
    resetTimeoutMs: int | None = Field(default=None, ge=1, le=86_400_000)
    degradationThreshold: int | None = Field(default=None, ge=1, le=10_000)
    halfOpenRequests: int | None = Field(default=None, ge=1, le=1_000)


class CooldownPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    baseCooldownMs: int | None = Field(default=None, ge=0, le=86_400_000)
    useUpstreamRetryHints: bool | None = None
    maxBackoffSteps: int | None = Field(default=None, ge=0, le=20)
    rateLimitCooldownMs: int | None = Field(default=None, ge=0, le=86_400_000)


class LockoutPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    durationMs: int | None = Field(default=None, ge=0, le=86_400_000)


class ResiliencePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    providerBreaker: dict[str, BreakerPatch] = Field(default_factory=dict)
    connectionCooldown: dict[str, CooldownPatch] = Field(default_factory=dict)
    modelLockout: LockoutPatch | None = None


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["all", "breakers", "cooldowns", "auth", "lockouts"] = "all"
    provider: str | None = None
    connectionId: str | None = None
    model: str | None = None


def _breaker(base: BreakerProfile, patch: BreakerPatch, field: str) -> BreakerProfile:
    profile = BreakerProfile(
        failure_threshold=patch.failureThreshold or base.failure_threshold,
        reset_timeout_s=(
            patch.resetTimeoutMs / 1000 if patch.resetTimeoutMs else base.reset_timeout_s
        ),
        degradation_threshold=patch.degradationThreshold or base.degradation_threshold,
        half_open_probes=patch.halfOpenRequests or base.half_open_probes,
    )
    if profile.degradation_threshold > profile.failure_threshold:
        raise invalid(f"{field}.degradationThreshold",
                      f"must not exceed failureThreshold ({profile.failure_threshold}): it is the "
                      "early warning before the breaker opens")
    return profile


def _cooldown(base: CooldownProfile, patch: CooldownPatch) -> CooldownProfile:
    def seconds(ms: int | None, current: float) -> float:
        return current if ms is None else ms / 1000

    return CooldownProfile(
        base_cooldown_s=seconds(patch.baseCooldownMs, base.base_cooldown_s),
        max_backoff_steps=(
            base.max_backoff_steps if patch.maxBackoffSteps is None else patch.maxBackoffSteps
        ),
        use_upstream_retry_hints=(
            base.use_upstream_retry_hints if patch.useUpstreamRetryHints is None
            else patch.useUpstreamRetryHints
        ),
        rate_limit_cooldown_s=seconds(patch.rateLimitCooldownMs, base.rate_limit_cooldown_s),
    )


def patched_config(config: ResilienceConfig, patch: ResiliencePatch) -> ResilienceConfig:
    """A new config with the patch applied; 422 naming the field on any invalid value."""
    breakers, cooldowns = dict(config.breakers), dict(config.cooldowns)
    for name, value in patch.providerBreaker.items():
        if name not in breakers:
            raise invalid(f"providerBreaker.{name}", f"unknown profile; use {', '.join(breakers)}")
        breakers[name] = _breaker(breakers[name], value, f"providerBreaker.{name}")
    for name, value in patch.connectionCooldown.items():
        if name not in cooldowns:
            raise invalid(f"connectionCooldown.{name}",
                          f"unknown profile; use {', '.join(cooldowns)}")
        cooldowns[name] = _cooldown(cooldowns[name], value)
    lockout = config.model_lockout_s
    if patch.modelLockout is not None and patch.modelLockout.durationMs is not None:
        lockout = patch.modelLockout.durationMs / 1000
    return dataclasses.replace(
        config, breakers=breakers, cooldowns=cooldowns, model_lockout_s=lockout
    )


def _merge(stored: dict[str, Any], patch: ResiliencePatch) -> dict[str, Any]:
    """The stored document (patches merged, unset fields left out) re-applied at start-up."""
    merged = {k: dict(v) for k, v in stored.items()}
    fresh = patch.model_dump(exclude_none=True)
    for section in ("providerBreaker", "connectionCooldown"):
        for profile, values in fresh.get(section, {}).items():
            bucket = merged.setdefault(section, {})
            bucket[profile] = {**bucket.get(profile, {}), **values}
    if fresh.get("modelLockout"):
        merged["modelLockout"] = {**merged.get("modelLockout", {}), **fresh["modelLockout"]}
    return merged


def apply_stored(router: Router, stored: dict[str, Any]) -> None:
    """Start-up: the defaults with the user's saved changes on top."""
    if stored:
        state = router.resilience
        state.config = patched_config(ResilienceConfig(), ResiliencePatch.model_validate(stored))


def _view(state: ResilienceState) -> dict[str, Any]:
    # The engine keeps wall-clock times (shared with other instances through Redis).
    return {**state.snapshot(time.time()),
            "providerProfiles": dict(state.config.provider_profiles)}


@router.get("")
async def get_resilience(router: RouterDep) -> dict[str, Any]:
    return _view(router.resilience)


@router.patch("")
async def update_resilience(
    router: RouterDep, store: StoreDep, sync: SyncDep, patch: ResiliencePatch
) -> dict[str, Any]:
    refuse_config_entry(await store.setting_from_config(SETTING), "the resilience settings")
    state = router.resilience
    config = patched_config(state.config, patch)  # raises before anything is stored
    await store.set_setting(SETTING, _merge(await store.get_setting(SETTING, {}), patch))
    state.config = config
    sync.changed("resilience")
    return _view(state)


@router.post("/reset")
async def reset_resilience(
    router: RouterDep, payload: ResetRequest | None = Body(default=None)
) -> dict[str, Any]:
    """Clear breakers, cooldowns, auth-failed marks and/or model lockouts (all by default)."""
    payload = payload or ResetRequest()
    state = router.resilience
    cleared = state.reset(
        None if payload.scope == "all" else payload.scope,
        provider=payload.provider,
        connection_id=payload.connectionId,
        model=payload.model,
    )
    return {"reset": True, "scope": payload.scope, "cleared": cleared}
