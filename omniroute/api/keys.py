"""OmniRoute's own API keys: `/api/keys` (ApiKey in the OmniRoute API specification; GoClaw-style scopes).

The secret is returned once, by the create call; only its sha256 and last 4 characters are
stored, so a lost key is replaced, never recovered.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, select

from omniroute.api.auth import hash_key, key_cache, new_secret
from omniroute.api.deps import StoreDep, SyncDep
from omniroute.api.fields import Label
from omniroute.api.management import refuse_config_entry
from omniroute.db.tables import ApiKey
from omniroute.engine.errors import NotFound
from omniroute.providers.secrets import preview
from omniroute.shared.config_sync import ConfigSync

router = APIRouter(prefix="/api/keys", tags=["API Keys"])

Scope = Literal["admin", "read", "write"]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Label
    scope: Scope = "write"  # write: may call the model APIs; admin: may also manage


class ApiKeyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Label | None = None
    isActive: bool | None = None
    scope: Scope | None = None


def key_json(row: ApiKey) -> dict[str, Any]:
    return {
        "id": row.id,
        "label": row.label,
        "keyPreview": row.key_preview,
        "scope": row.scope,
        "isActive": row.is_active,
        "createdAt": row.created_at.isoformat(),
        "lastUsedAt": row.last_used_at.isoformat() if row.last_used_at else None,
        "fromConfig": row.from_config,
    }


def _get(session: Session, key_id: str) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"API key {key_id!r} not found")
    return row


def _keys_changed(request: Request, sync: ConfigSync) -> None:
    key_cache(request).invalidate()
    sync.changed("keys")


@router.get("")
async def list_keys(store: StoreDep) -> dict[str, Any]:
    rows = await store.run(lambda session: session.exec(select(ApiKey).order_by(ApiKey.created_at)).all())
    return {"keys": [key_json(row) for row in rows]}


@router.post("", status_code=201)
async def create_key(request: Request, store: StoreDep, sync: SyncDep, payload: ApiKeyCreate) -> dict[str, Any]:
    secret = new_secret()
    row = ApiKey(label=payload.label, key_hash=hash_key(secret), key_preview=preview(secret),
                 scope=payload.scope)

    def create(session: Session) -> None:
        session.add(row)
        session.commit()

    await store.run(create)
    _keys_changed(request, sync)
    return {
        **key_json(row),
        "key": secret,
        "warning": "store this key now: it is shown only once and cannot be recovered",
    }


@router.get("/{key_id}")
async def get_key(store: StoreDep, key_id: str) -> dict[str, Any]:
    return key_json(await store.run(lambda session: _get(session, key_id)))


@router.patch("/{key_id}")
async def update_key(
    request: Request, store: StoreDep, sync: SyncDep, key_id: str, payload: ApiKeyUpdate
) -> dict[str, Any]:
    def update(session: Session) -> ApiKey:
        row = _get(session, key_id)
        refuse_config_entry(row.from_config, f"API key {row.label!r}")
        if payload.label is not None:
            row.label = payload.label
        if payload.isActive is not None:
            row.is_active = payload.isActive
        if payload.scope is not None:
            row.scope = payload.scope
        session.add(row)
        session.commit()
        return row

    row = await store.run(update)
    _keys_changed(request, sync)
    return key_json(row)


@router.delete("/{key_id}")
async def delete_key(request: Request, store: StoreDep, sync: SyncDep, key_id: str) -> dict[str, Any]:
    def delete(session: Session) -> None:
        row = _get(session, key_id)
        refuse_config_entry(row.from_config, f"API key {row.label!r}")
        session.delete(row)
        session.commit()

    await store.run(delete)
    _keys_changed(request, sync)
    return {"deleted": True, "id": key_id}
