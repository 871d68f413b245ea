"""The model lists in each client's shape, and the management views of models.

`GET /api/v1` (what this API is), `GET /api/tags` (Ollama's list), `GET /v1beta/models` and
`/api/v1beta/models` (Gemini's list, plus generateContent under `/api/v1beta`), `GET /api/models`
(every routable name with what it points at) and `GET /api/models/catalog` (provider types,
their endpoints and known models, and the connections made from them). Every list is read from
the routing snapshot, so it names exactly what the engine would route.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from omniroute import __version__
from omniroute.api.deps import RegistryDep, RouterDep, TokensDep
from omniroute.api.v1 import gemini_call
from omniroute.engine.registry import Snapshot
from omniroute.providers.adapters import ADAPTERS

info_router = APIRouter()  # under /v1 and /api/v1
router = APIRouter(tags=["Models"])

MODEL_APIS = {
    "openai": ["/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/images/generations",
               "/v1/audio/speech", "/v1/audio/transcriptions", "/v1/moderations", "/v1/rerank", "/v1/models",
               "/v1/ws"],
    "anthropic": ["/v1/messages", "/v1/messages/count_tokens"],
    "gemini": ["/v1beta/models", "/v1beta/models/{model}:generateContent"],
    "ollama": ["/api/chat", "/api/tags"],
}


def routable_models(snapshot: Snapshot) -> list[dict[str, Any]]:
    """Every name the engine routes: combos, aliases, then each active connection's prefix."""
    models = [{"id": name, "kind": "combo", "target": combo.model, "strategy": combo.strategy}
              for name, combo in snapshot.combos.items()]
    models += [{"id": alias, "kind": "alias", "target": target} for alias, target in snapshot.aliases.items()]
    models += [{"id": f"{c.name}/*", "kind": "connection", "target": c.name, "provider": c.provider}
               for c in snapshot.connections.values() if c.is_active]
    return models


@info_router.get("")
async def api_info(registry: RegistryDep) -> dict[str, Any]:
    snapshot = registry.snapshot
    return {
        "name": "OmniRoute", "version": __version__, "status": "ok",
        "models": len(routable_models(snapshot)),
        "connections": sum(1 for c in snapshot.connections.values() if c.is_active),
        "endpoints": MODEL_APIS,
    }


def listed_models(snapshot: Snapshot) -> list[dict[str, Any]]:
    """What a client's model picker shows: combos and aliases, then each active connection's
    known models as `<connection>/<model>` (as the catalog lists them), or `<connection>/*`
    for a provider type whose models are not known ahead (the upstream's own list)."""
    models = [m for m in routable_models(snapshot) if m["kind"] != "connection"]
    for c in snapshot.connections.values():
        if c.is_active:
            names = [f"{c.name}/{m}" for m in c.adapter.models] or [f"{c.name}/*"]
            models += [{"id": name, "kind": "connection", "target": c.name, "provider": c.provider} for name in names]
    return models


@router.get("/api/tags")
async def ollama_tags(registry: RegistryDep) -> dict[str, Any]:
    # Remote models have no local file: no size, no digest, and no modification time but the list's.
    now = datetime.now(UTC).isoformat()
    return {"models": [
        {"name": m["id"], "model": m["id"], "modified_at": now, "size": 0, "digest": "",
         "details": {"format": "", "family": m.get("provider") or m["kind"], "parameter_size": "",
                     "quantization_level": ""}}
        for m in listed_models(registry.snapshot)
    ]}


@router.get("/v1beta/models")
@router.get("/api/v1beta/models")
async def gemini_models(registry: RegistryDep) -> dict[str, Any]:
    return {"models": [
        {"name": f"models/{m['id']}", "displayName": m["id"], "description": f"OmniRoute {m['kind']}",
         "supportedGenerationMethods": ["generateContent", "streamGenerateContent"]}
        for m in listed_models(registry.snapshot)
    ]}


@router.post("/api/v1beta/models/{path:path}", openapi_extra={"requestBody": {
    "required": True, "content": {"application/json": {"schema": {"type": "object"}}}}})
async def gemini_generate(request: Request, router: RouterDep, tokens: TokensDep, path: str) -> Response:
    return await gemini_call(request, router, tokens, path)


@router.get("/api/models")
async def management_models(registry: RegistryDep) -> dict[str, Any]:
    snapshot = registry.snapshot
    return {"models": routable_models(snapshot), "aliases": dict(snapshot.aliases)}


@router.get("/api/models/catalog")
async def model_catalog(registry: RegistryDep) -> dict[str, Any]:
    providers = [
        {"type": a.type, "defaultUrl": a.default_url, "formats": [str(f) for f in a.formats],
         "embeddings": a.embeddings_path is not None, "media": sorted(str(f) for f in a.media),
         "models": list(a.models)}
        for a in sorted(ADAPTERS.values(), key=lambda a: a.type)
    ]
    connections = [
        {"id": c.id, "name": c.name, "provider": c.provider, "isActive": c.is_active,
         "models": [f"{c.name}/{m}" for m in c.adapter.models] or [f"{c.name}/*"]}
        for c in registry.snapshot.connections.values()
    ]
    return {"providers": providers, "connections": connections}
