"""Health: `GET /health` (short) and `GET /api/monitoring/health` (with engine
state, as the OmniRoute API specification defines it)."""

from __future__ import annotations

import resource
import time
from typing import Any

from fastapi import APIRouter, Request

from omniroute.api.deps import runtime_of

router = APIRouter(tags=["System"])


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    return runtime_of(request).health()


@router.get("/api/monitoring/health")
async def monitoring_health(request: Request) -> dict[str, Any]:
    runtime = runtime_of(request)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        **runtime.health(),
        "memory": {"maxRssKb": usage.ru_maxrss},
        "database": runtime.db.safe_url,
        "circuitBreakers": runtime.router.resilience.snapshot(time.time()),
        "providers": len(runtime.registry.snapshot.connections),
        # Usage rows the database refused as they were: written repaired, or dropped.
        "usageRows": runtime.router.usage.stats() if runtime.router.usage else None,
    }
