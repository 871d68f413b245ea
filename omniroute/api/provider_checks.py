"""`/api/providers` beyond one connection: `test-batch`, `validate` (credentials checked
before anything is stored) and `client` (the provider types a client can offer).

Included before the `/api/providers/{id}` routes, which would otherwise take these names
for connection ids.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from omniroute.api.deps import PoolDep, RegistryDep, SecretsDep, StoreDep
from omniroute.api.providers import (
    ProviderConnectionCreate,
    check_create,
    new_row,
    probe,
    set_status,
)
from omniroute.engine.errors import NotFound
from omniroute.providers.adapters import ADAPTERS
from omniroute.providers.clouds import CLOUD_FIELDS, URL_REQUIRED

router = APIRouter(prefix="/api/providers", tags=["Providers"])


class BatchTest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # None: every active connection.
    ids: list[str] | None = Field(default=None, max_length=500)


@router.post("/test-batch")
async def test_batch(store: StoreDep, registry: RegistryDep, pool: PoolDep,
                     payload: BatchTest | None = None) -> dict[str, Any]:
    connections = registry.snapshot.connections
    ids = payload.ids if payload is not None and payload.ids is not None else [
        c.id for c in connections.values() if c.is_active]
    missing = [i for i in ids if i not in connections]
    if missing:
        raise NotFound(f"provider connection {missing[0]!r} not found")
    ids = list(dict.fromkeys(ids))  # each connection once
    results = await asyncio.gather(*(probe(pool, connections[i]) for i in ids))

    def record(session: Session) -> None:
        for connection_id, result in zip(ids, results, strict=True):
            if result.get("checked", True):
                set_status(session, connection_id, result["ok"])

    await store.run(record)
    rows = [{"id": i, "name": connections[i].name, **{k: v for k, v in r.items() if k != "models"}}
            for i, r in zip(ids, results, strict=True)]
    passed = sum(1 for r in rows if r["ok"])
    return {"results": rows, "total": len(rows), "passed": passed, "failed": len(rows) - passed}


@router.post("/validate")
async def validate(registry: RegistryDep, pool: PoolDep, secrets: SecretsDep,
                   payload: ProviderConnectionCreate) -> dict[str, Any]:
    """The same body as creating a connection; its model list is fetched, nothing is stored."""
    check_create(payload)
    connection = registry.connection(new_row(secrets, payload))
    try:
        result = await probe(pool, connection)
    finally:
        await pool.drop(connection.id)
    return {"valid": bool(result["ok"]), "provider": payload.provider, "url": connection.url, **result}


@router.get("/client")
async def client_info(registry: RegistryDep) -> dict[str, Any]:
    providers = [
        {"type": a.type, "defaultUrl": a.default_url, "urlRequired": a.type in URL_REQUIRED,
         "settings": list(CLOUD_FIELDS.get(a.type, ())), "models": list(a.models)}
        for a in sorted(ADAPTERS.values(), key=lambda a: a.type)
    ]
    connections = [{"id": c.id, "name": c.name, "provider": c.provider, "isActive": c.is_active}
                   for c in registry.snapshot.connections.values()]
    return {"providers": providers, "connections": connections}
