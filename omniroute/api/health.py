"""Health: `GET /health` (short) and `GET /api/monitoring/health` (with engine
state, as the OmniRoute API specification defines it)."""

from __future__ import annotations

import gc
import resource
import time
from typing import Any

from fastapi import APIRouter

from omniroute import __version__
from omniroute.api.deps import BoardDep, RegistryDep, RouterDep, SharedDep, StoreDep
from omniroute.listeners import ListenerBoard
from omniroute.shared.state import SharedState

router = APIRouter(tags=["System"])


def health_body(board: ListenerBoard, shared: SharedState) -> dict[str, Any]:
    link = shared.link
    return {
        "status": "ok",
        "version": __version__,
        "uptime": round(time.time() - board.started_at, 3),
        "listeners": [listener.as_dict() for listener in board.states()],
        # Where breakers, counters and events live; `up: false` while Redis is away (this
        # instance then serves from local state and catches up when it returns).
        "sharedState": {"backend": "redis", "up": link.up} if link else {"backend": "memory", "up": True},
    }


@router.get("/health")
async def health(board: BoardDep, shared: SharedDep) -> dict[str, Any]:
    return health_body(board, shared)


@router.get("/api/monitoring/health")
async def monitoring_health(
    board: BoardDep, shared: SharedDep, store: StoreDep, router: RouterDep, registry: RegistryDep
) -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        **health_body(board, shared),
        # Collections by generation since the start: each one stops the loop that carries the calls.
        "memory": {"maxRssKb": usage.ru_maxrss, "gcCollections": [gen["collections"] for gen in gc.get_stats()]},
        "database": store.db.safe_url,
        "circuitBreakers": router.resilience.snapshot(time.time()),
        "providers": len(registry.snapshot.connections),
        # Usage rows the database refused as they were: written repaired, or dropped.
        "usageRows": router.usage.stats() if router.usage else None,
    }
