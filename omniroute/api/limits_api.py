"""Limits on the callers (the OmniRoute API specification's rate-limit, sessions and budget
operations): `GET`/`POST /api/rate-limit` (the rules), `GET /api/rate-limits` (live counts),
`GET /api/sessions` (who is calling), `GET`/`POST`/`DELETE /api/usage/budget` (spend limits
per API key). Enforcement is the engine's (`engine.admission`), for every entry point.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Query

from omniroute.api.deps import RouterDep, RuntimeSettingsDep, StoreDep, SyncDep
from omniroute.api.settings_api import save_section
from omniroute.api.settings_models import BudgetIn, RateLimitIn
from omniroute.db.tables import ApiKey
from omniroute.engine.errors import NotFound
from omniroute.engine.router import Router

router = APIRouter(tags=["Settings"])


def _admission(router: Router) -> Any:
    assert router.admission is not None  # the composition root always builds one
    return router.admission


@router.get("/api/rate-limit")
async def get_rate_limit(settings: RuntimeSettingsDep) -> dict[str, Any]:
    return settings.get("rateLimit")  # type: ignore[no-any-return]


@router.post("/api/rate-limit")
async def post_rate_limit(
    settings: RuntimeSettingsDep, store: StoreDep, sync: SyncDep, payload: RateLimitIn
) -> dict[str, Any]:
    """``{"enabled": bool, "rules": [{apiKeyId, model, limit, windowSeconds}]}``; rules sent
    replace the stored list."""
    return await save_section(settings, store, sync, "rateLimit", payload)  # type: ignore[no-any-return]


@router.get("/api/rate-limits", tags=["System"])
async def get_rate_limits(router: RouterDep, settings: RuntimeSettingsDep) -> dict[str, Any]:
    """The live counts of the current windows (across instances when they share Redis)."""
    limiter = _admission(router).limiter
    config = settings.get("rateLimit")
    return {"enabled": bool(config.get("enabled")), "rules": config.get("rules", []),
            "limits": limiter.status(time.time())}


@router.get("/api/sessions", tags=["System"])
async def get_sessions(router: RouterDep) -> dict[str, Any]:
    """Callers seen by this instance in the last 30 minutes (or with a call in flight)."""
    return _admission(router).sessions()  # type: ignore[no-any-return]


@router.get("/api/usage/budget", tags=["Usage"])
async def get_budgets(router: RouterDep) -> dict[str, Any]:
    return {"budgets": await _admission(router).budgets.status()}


async def _key_exists(store: StoreDep, key_id: str) -> bool:
    return await store.run(lambda session: session.get(ApiKey, key_id) is not None)


@router.post("/api/usage/budget", tags=["Usage"])
async def post_budget(
    router: RouterDep, settings: RuntimeSettingsDep, store: StoreDep, sync: SyncDep, payload: BudgetIn
) -> dict[str, Any]:
    """Set (or replace) the budget of one API key; its status as GET shows it."""
    if not await _key_exists(store, payload.apiKeyId):
        raise NotFound(f"no API key {payload.apiKeyId!r}; see GET /api/keys", param="apiKeyId")
    budgets = {**settings.get("budgets"), payload.apiKeyId: payload.model_dump()}
    await store.call(settings.save, {"budgets": budgets})
    sync.changed("settings")
    return await _status_of(router, payload.apiKeyId)


@router.delete("/api/usage/budget", tags=["Usage"])
async def delete_budget(
    settings: RuntimeSettingsDep, store: StoreDep, sync: SyncDep, apiKeyId: str = Query(min_length=1)
) -> dict[str, Any]:
    budgets = dict(settings.get("budgets"))
    if budgets.pop(apiKeyId, None) is None:
        raise NotFound(f"API key {apiKeyId!r} has no budget", param="apiKeyId")
    await store.call(settings.save, {"budgets": budgets})
    sync.changed("settings")
    return {"deleted": True, "apiKeyId": apiKeyId}


async def _status_of(router: Router, key_id: str) -> dict[str, Any]:
    for entry in await _admission(router).budgets.status():
        if entry["apiKeyId"] == key_id:
            return entry  # type: ignore[no-any-return]
    raise NotFound(f"API key {key_id!r} has no budget")

