"""Provider connections: `/api/providers` (ProviderConnection /
ProviderConnectionCreate in the OmniRoute API specification)."""

from __future__ import annotations

import json
import re
import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from sqlmodel import Session, select

from omniroute.api.deps import PoolDep, RegistryDep, ReloadRegistryDep, SecretsDep, StoreDep
from omniroute.api.fields import Count32, Int32, no_control
from omniroute.api.management import refuse_config_entry
from omniroute.db.tables import ProviderConnection, utcnow
from omniroute.engine.errors import BadRequest, Conflict, EngineError, NotFound
from omniroute.engine.limits import TIMING_KEYS
from omniroute.engine.registry import Connection, Registry
from omniroute.providers.adapters import ADAPTERS, adapter_for
from omniroute.providers.cloud_auth import AuthorizationFailed
from omniroute.providers.clouds import (
    CLOUD_FIELDS,
    SETTING_KEYS,
    URL_REQUIRED,
    apply_settings,
    service_account_info,
)
from omniroute.providers.pool import TIMEOUT_KEY, ClientPool
from omniroute.providers.secrets import SecretBox, preview

router = APIRouter(prefix="/api/providers", tags=["Providers"])

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")




# Connection settings kept in ProviderConnection.extra; the API field is the key.
EXTRA_FIELDS = TIMING_KEYS


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


# 16 KiB: a Vertex service-account JSON (with its private key) is the longest secret.
ApiKeyText = Annotated[str, Field(max_length=16384), AfterValidator(_check_key)]
# Cloud connection settings: plain identifiers that end up in URLs and signatures.
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
SessionToken = Annotated[str, Field(max_length=8192), AfterValidator(_check_key)]


class CloudSettings(BaseModel):
    """Settings of cloud provider types (stored in the connection's `extra`)."""

    @model_validator(mode="before")
    @classmethod
    def _compact_key_file(cls, data: Any) -> Any:
        # A key file (Vertex's service-account JSON) arrives with line breaks, which the key
        # check refuses (keys become header values); stored compact it means the same.
        key = data.get("apiKey") if isinstance(data, dict) else None
        if isinstance(key, str) and key.lstrip().startswith("{"):
            try:
                parsed = json.loads(key)
            except ValueError:
                return data
            if isinstance(parsed, dict):
                return {**data, "apiKey": json.dumps(parsed, separators=(",", ":"))}
        return data

    region: Identifier | None = None  # bedrock, vertex
    project: Identifier | None = None  # vertex (default: the service account's project)
    apiVersion: Identifier | None = None  # azure
    accessKeyId: Identifier | None = None  # bedrock: the secret access key goes in apiKey
    sessionToken: SessionToken | None = None  # bedrock temporary credentials (write-only)
    tenantId: Identifier | None = None  # azure Entra ID: with clientId, apiKey is the client secret
    clientId: Identifier | None = None
    authorityUrl: UpstreamUrl | None = None  # azure Entra ID authority (sovereign clouds)


class ProviderConnectionCreate(CloudSettings):
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


class ProviderConnectionUpdate(CloudSettings):
    model_config = ConfigDict(extra="forbid")

    # The specification's PATCH body is ProviderConnectionCreate, which names the type: taken
    # when it is the connection's own, refused otherwise (a new type is a new connection).
    provider: ProviderType | None = None
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
        **{key: (row.extra or {}).get(key) for key in SETTING_KEYS if (row.extra or {}).get(key)},
        "createdAt": row.created_at.isoformat(),
        "fromConfig": row.from_config,
    }


def _apply_settings(secrets: SecretBox, payload: CloudSettings, extra: dict[str, Any]) -> dict[str, Any]:
    """The connection's `extra` with the settings the payload sets (null clears one)."""
    given = {key: getattr(payload, key) for key in payload.model_fields_set if key in CloudSettings.model_fields}
    return apply_settings(extra, given, secrets.encrypt)


def _check_settings_apply(provider: str, payload: CloudSettings) -> None:
    """A setting the provider type does not read is refused, not stored to no effect."""
    for key in payload.model_fields_set & CloudSettings.model_fields.keys():
        if key not in CLOUD_FIELDS.get(provider, ()) and getattr(payload, key) is not None:
            raise BadRequest(f"{key} does not apply to provider type {provider}", param=key)


def _key_preview(provider: str, key: str) -> str:
    if provider == "vertex":  # a service-account file: show whose it is, not its tail
        info = service_account_info(key)
        if info and info.get("client_email"):
            return str(info["client_email"])
    return preview(key)


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


def new_row(secrets: SecretBox, payload: ProviderConnectionCreate) -> ProviderConnection:
    """The row ``payload`` describes, not yet stored."""
    extra = {key: getattr(payload, key) for key in EXTRA_FIELDS if getattr(payload, key)}
    row = ProviderConnection(
        provider=payload.provider,
        name=payload.name or payload.provider,
        url=payload.url or adapter_for(payload.provider).default_url,
        is_active=payload.isActive,
        max_concurrent=payload.maxConcurrent,
        priority=payload.priority,
        extra=_apply_settings(secrets, payload, extra),
    )
    if payload.apiKey:
        row.api_key_encrypted = secrets.encrypt(payload.apiKey)
        row.key_preview = _key_preview(payload.provider, payload.apiKey)
    return row


def check_create(payload: ProviderConnectionCreate) -> None:
    """What a new connection needs beyond its fields' own checks."""
    _check_settings_apply(payload.provider, payload)
    if payload.provider in URL_REQUIRED and not payload.url:
        raise BadRequest(f"a {payload.provider} connection needs its endpoint url, "
                         "e.g. https://<resource>.openai.azure.com", param="url")
    if payload.provider == "vertex" and not payload.project and not (
        payload.apiKey and (service_account_info(payload.apiKey) or {}).get("project_id")
    ):
        raise BadRequest("a vertex connection needs project (or a service-account JSON naming one in apiKey)",
                         param="project")


@router.post("", status_code=201)
async def create_connection(
    store: StoreDep, secrets: SecretsDep, pool: PoolDep, reload: ReloadRegistryDep,
    payload: ProviderConnectionCreate,
) -> dict[str, Any]:
    check_create(payload)

    def create(session: Session) -> ProviderConnection:
        row = new_row(secrets, payload)
        _unique_name(session, row.name)
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
        refuse_config_entry(row.from_config, f"provider connection {row.name!r}")
        if payload.provider is not None and payload.provider != row.provider:
            raise BadRequest(f"a connection's provider type cannot change ({row.provider} here); "
                             "create a new connection for another type", param="provider")
        _check_settings_apply(row.provider, payload)
        if payload.name is not None and payload.name != row.name:
            _unique_name(session, payload.name, exclude_id=row.id)
            row.name = payload.name
        if payload.url is not None:
            row.url = payload.url
        if payload.apiKey is not None:
            row.api_key_encrypted = secrets.encrypt(payload.apiKey) if payload.apiKey else None
            row.key_preview = _key_preview(row.provider, payload.apiKey) if payload.apiKey else None
        for field, attr in (("isActive", "is_active"), ("maxConcurrent", "max_concurrent"), ("priority", "priority")):
            if field in payload.model_fields_set:
                setattr(row, attr, getattr(payload, field))
        changed = [key for key in EXTRA_FIELDS if key in payload.model_fields_set]
        if changed:
            # A new dict: the JSON column only notices a changed object, not a mutated one.
            extra = {k: v for k, v in (row.extra or {}).items() if k not in changed}
            extra.update({key: getattr(payload, key) for key in changed if getattr(payload, key)})
            row.extra = extra
        row.extra = _apply_settings(secrets, payload, row.extra or {})
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
        row = _get(session, connection_id)
        refuse_config_entry(row.from_config, f"provider connection {row.name!r}")
        session.delete(row)
        session.commit()

    await store.run(delete)
    await pool.drop(connection_id)
    await reload()
    return {"deleted": True, "id": connection_id}


async def _probe(registry: Registry, pool: ClientPool, connection_id: str) -> dict[str, Any]:
    connection = registry.snapshot.connections.get(connection_id)
    if connection is None:
        raise NotFound(f"provider connection {connection_id!r} not found")
    return await probe(pool, connection)


async def probe(pool: ClientPool, connection: Connection) -> dict[str, Any]:
    """List the upstream's models: proves the URL and key work without spending tokens."""
    adapter = connection.adapter
    url = adapter.models_url(connection.url, connection.extra)
    if url is None:  # no model list endpoint: the key is first checked by a real call
        return {"ok": True, "checked": False, "models": list(adapter.models)}
    # By name and type too: a connection being validated is not saved, yet its proxy entry applies.
    upstream = pool.upstream(connection.id, connection.max_concurrent, connection.extra.get(TIMEOUT_KEY),
                             name=connection.name, provider=connection.provider)
    started = time.perf_counter()
    try:
        headers = adapter.headers(None if connection.auth is not None else connection.api_key)
        if connection.auth is not None:
            headers = await connection.auth.authorize("GET", url, b"", headers, upstream.proxy)
        response = await upstream.client.get(url, headers=headers)
    except AuthorizationFailed as exc:
        return {"ok": False, "error": str(exc), "models": []}
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
    models = adapter.model_ids(data)
    return {"ok": True, "status": response.status_code, "latencyMs": latency, "models": [m for m in models if m]}


def set_status(session: Session, connection_id: str, ok: bool) -> None:
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
    if result.get("checked", True):
        await store.run(lambda session: set_status(session, connection_id, result["ok"]))
    return {"id": connection_id, **{k: v for k, v in result.items() if k != "models"}}


@router.get("/{connection_id}/models")
async def connection_models(registry: RegistryDep, pool: PoolDep, connection_id: str) -> JSONResponse:
    result = await _probe(registry, pool, connection_id)
    if not result["ok"]:
        raise EngineError(result.get("error", "model list unavailable"), status=502)
    return JSONResponse({"models": result["models"]})
