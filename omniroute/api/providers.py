"""Provider connections: `/api/providers` (ProviderConnection /
ProviderConnectionCreate in the OmniRoute API specification)."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from omniroute.api.deps import PoolDep, RegistryDep, ReloadRegistryDep, SecretsDep, StoreDep
from omniroute.db.tables import ProviderConnection, utcnow
from omniroute.api.fields import Count32, Int32, no_control
from omniroute.engine.errors import Conflict, EngineError, NotFound
from omniroute.engine.limits import FIRST_BYTE_KEY, IDLE_KEY
from omniroute.engine.registry import Registry
from omniroute.providers.adapters import ADAPTERS, adapter_for
from omniroute.providers.pool import TIMEOUT_KEY, ClientPool
from omniroute.providers.secrets import preview

router = APIRouter(prefix="/api/providers", tags=["Providers"])

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")




# Connection settings kept in ProviderConnection.extra; the API field is the key.
EXTRA_FIELDS = (TIMEOUT_KEY, FIRST_BYTE_KEY, IDLE_KEY)


def _check_url(url: str) -> str:
    # CR/LF would split the request line or a header upstream; httpx raises InvalidURL (not a
    # ValueError, so pydantic would let it through as a 500).
    no_control(url)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("must be an absolute http(s) URL, e.g. https://api.openai.com/v1")
    # URLs are stored and shown as given; a secret in one would be in plaintext. Keys go in
    # `apiKey` (encrypted at rest). Request paths are appended to the base URL, so a query or
    # fragment there would end up in the wrong place anyway.
    if parsed.userinfo:
        raise ValueError("must not carry credentials (user:password@); put the key in apiKey")
    if parsed.query or parsed.fragment or "?" in url or "#" in url:
        raise ValueError("must be a base URL without a query string or fragment; put the key in apiKey")
    return url.rstrip("/")


def _check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError(
            "1-64 characters: letters, digits, '.', '_' or '-' (it becomes the routing "
            "prefix '<name>/<model>', so no '/')"
        )
    return name


def _check_provider(provider: str) -> str:
    if provider not in ADAPTERS:
        raise ValueError(f"unknown provider type; supported: {', '.join(sorted(ADAPTERS))}")
    return provider


ConnectionName = Annotated[str, AfterValidator(_check_name)]
UpstreamUrl = Annotated[str, AfterValidator(_check_url)]
ProviderType = Annotated[str, AfterValidator(_check_provider)]


def _check_key(key: str) -> str:
    # The key becomes a header value upstream: CR/LF there would inject headers.
    return no_control(key)


ApiKeyText = Annotated[str, Field(max_length=4096), AfterValidator(_check_key)]


class ProviderConnectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: ProviderType
    name: ConnectionName | None = None
    url: UpstreamUrl | None = None
    apiKey: ApiKeyText | None = None
    isActive: bool = True
    maxConcurrent: Count32 | None = None
    priority: Int32 = 0
    # Longest wait for the upstream's next byte (and cap on connecting); None: the pool default.
    timeoutSeconds: float | None = Field(default=None, gt=0, le=3600)
    # Deadline for the first byte of an answer (a whole non-streamed reply), and the longest
    # wait for the next stream event; None: the settings' defaults (engine/limits.py).
    firstByteTimeoutSeconds: float | None = Field(default=None, gt=0, le=3600)
    idleTimeoutSeconds: float | None = Field(default=None, gt=0, le=3600)


class ProviderConnectionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ConnectionName | None = None
    url: UpstreamUrl | None = None
    apiKey: ApiKeyText | None = None
    isActive: bool | None = None
    maxConcurrent: Count32 | None = None
    priority: Int32 | None = None
    timeoutSeconds: float | None = Field(default=None, gt=0, le=3600)  # null: the pool default
    firstByteTimeoutSeconds: float | None = Field(default=None, gt=0, le=3600)  # null: the default
    idleTimeoutSeconds: float | None = Field(default=None, gt=0, le=3600)


def connection_json(row: ProviderConnection) -> dict[str, Any]:
    return {
        "id": row.id,
        "provider": row.provider,
        "name": row.name,
        "url": row.url,
        "isActive": row.is_active,
        "maxConcurrent": row.max_concurrent,
        "priority": row.priority,
        "testStatus": row.test_status,
        "keyPreview": row.key_preview,
        **{key: (row.extra or {}).get(key) for key in EXTRA_FIELDS},
        "createdAt": row.created_at.isoformat(),
    }


def _get(session: Any, connection_id: str) -> ProviderConnection:
    row = session.get(ProviderConnection, connection_id)
    if row is None:
        raise NotFound(f"provider connection {connection_id!r} not found")
    return row


def _unique_name(session: Any, wanted: str, exclude_id: str | None = None) -> None:
    clash = session.exec(select(ProviderConnection).where(ProviderConnection.name == wanted)).first()
    if clash is not None and clash.id != exclude_id:
        raise Conflict(f"a provider connection named {wanted!r} already exists", param="name")


@router.get("")
async def list_connections(store: StoreDep) -> dict[str, Any]:
    rows = await store.run(
        lambda session: session.exec(select(ProviderConnection).order_by(ProviderConnection.created_at)).all()
    )
    return {"connections": [connection_json(r) for r in rows]}


@router.post("", status_code=201)
async def create_connection(
    store: StoreDep, secrets: SecretsDep, pool: PoolDep, reload: ReloadRegistryDep,
    payload: ProviderConnectionCreate,
) -> dict[str, Any]:
    adapter = adapter_for(payload.provider)

    def create(session: Session) -> ProviderConnection:
        name = payload.name or payload.provider
        _unique_name(session, name)
        row = ProviderConnection(
            provider=payload.provider,
            name=name,
            url=payload.url or adapter.default_url,
            is_active=payload.isActive,
            max_concurrent=payload.maxConcurrent,
            priority=payload.priority,
            extra={key: getattr(payload, key) for key in EXTRA_FIELDS if getattr(payload, key)},
        )
        if payload.apiKey:
            row.api_key_encrypted = secrets.encrypt(payload.apiKey)
            row.key_preview = preview(payload.apiKey)
        session.add(row)
        session.commit()
        return row

    row = await store.run(create)
    await pool.drop(row.id)
    await reload()
    return connection_json(row)


@router.get("/{connection_id}")
async def get_connection(store: StoreDep, connection_id: str) -> dict[str, Any]:
    return connection_json(await store.run(lambda session: _get(session, connection_id)))


@router.patch("/{connection_id}")
async def update_connection(
    store: StoreDep, secrets: SecretsDep, pool: PoolDep, reload: ReloadRegistryDep,
    connection_id: str, payload: ProviderConnectionUpdate,
) -> dict[str, Any]:
    def update(session: Session) -> ProviderConnection:
        row = _get(session, connection_id)
        if payload.name is not None and payload.name != row.name:
            _unique_name(session, payload.name, exclude_id=row.id)
            row.name = payload.name
        if payload.url is not None:
            row.url = payload.url
        if payload.apiKey is not None:
            row.api_key_encrypted = secrets.encrypt(payload.apiKey) if payload.apiKey else None
            row.key_preview = preview(payload.apiKey) if payload.apiKey else None
        for field, attr in (("isActive", "is_active"), ("maxConcurrent", "max_concurrent"), ("priority", "priority")):
            if field in payload.model_fields_set:
                setattr(row, attr, getattr(payload, field))
        changed = [key for key in EXTRA_FIELDS if key in payload.model_fields_set]
        if changed:
            # A new dict: the JSON column only notices a changed object, not a mutated one.
            extra = {k: v for k, v in (row.extra or {}).items() if k not in changed}
            extra.update({key: getattr(payload, key) for key in changed if getattr(payload, key)})
            row.extra = extra
        row.updated_at = utcnow()
        session.add(row)
        session.commit()
        return row

    row = await store.run(update)
    await pool.drop(connection_id)
    await reload()
    return connection_json(row)


@router.delete("/{connection_id}")
async def delete_connection(
    store: StoreDep, pool: PoolDep, reload: ReloadRegistryDep, connection_id: str
) -> dict[str, Any]:
    def delete(session: Session) -> None:
        session.delete(_get(session, connection_id))
        session.commit()

    await store.run(delete)
    await pool.drop(connection_id)
    await reload()
    return {"deleted": True, "id": connection_id}


async def _probe(registry: Registry, pool: ClientPool, connection_id: str) -> dict[str, Any]:
    """List the upstream's models: proves the URL and key work without spending tokens."""
    connection = registry.snapshot.connections.get(connection_id)
    if connection is None:
        raise NotFound(f"provider connection {connection_id!r} not found")
    adapter = connection.adapter
    client = pool.get(connection.id, connection.max_concurrent, connection.extra.get(TIMEOUT_KEY))
    started = time.perf_counter()
    try:
        response = await client.get(
            connection.url.rstrip("/") + adapter.models_path, headers=adapter.headers(connection.api_key)
        )
    except httpx.HTTPError as exc:
        return {"ok": False, "error": f"cannot reach {connection.url}: {exc.__class__.__name__}", "models": []}
    latency = round((time.perf_counter() - started) * 1000, 1)
    if response.status_code >= 400:
        return {"ok": False, "status": response.status_code, "latencyMs": latency,
                "error": f"upstream answered {response.status_code}", "models": []}
    try:
        data = response.json()
    except ValueError:
        return {"ok": False, "error": "upstream model list is not JSON", "models": []}
    raw = data.get("data") or data.get("models") or []
    models = [str(m.get("id") or m.get("name") or "") for m in raw if isinstance(m, dict)]
    return {"ok": True, "status": response.status_code, "latencyMs": latency, "models": [m for m in models if m]}


def _set_status(session: Session, connection_id: str, ok: bool) -> None:
    row = session.get(ProviderConnection, connection_id)
    if row is not None:
        row.test_status = "active" if ok else "error"
        session.add(row)
        session.commit()


@router.post("/{connection_id}/test")
async def test_connection(
    store: StoreDep, registry: RegistryDep, pool: PoolDep, connection_id: str
) -> dict[str, Any]:
    result = await _probe(registry, pool, connection_id)
    await store.run(lambda session: _set_status(session, connection_id, result["ok"]))
    return {"id": connection_id, **{k: v for k, v in result.items() if k != "models"}}


@router.get("/{connection_id}/models")
async def connection_models(registry: RegistryDep, pool: PoolDep, connection_id: str) -> JSONResponse:
    result = await _probe(registry, pool, connection_id)
    if not result["ok"]:
        raise EngineError(result.get("error", "model list unavailable"), status=502)
    return JSONResponse({"models": result["models"]})
