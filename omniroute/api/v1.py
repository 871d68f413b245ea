"""Model-API compatibility routes, served under `/v1` and `/api/v1`.

Each route only names the client's wire format and where the model and stream flag are;
the engine does the rest, so every client format reaches every provider type.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from omniroute.api.body import json_object
from omniroute.api.deps import RegistryDep, RouterDep, TokensDep, services_of
from omniroute.api.hangup import StreamReply, unless_client_leaves
from omniroute.bridge.handoff import H_MODEL, H_STREAM, is_internal, origin_from_headers
from omniroute.bridge.wire import wants_stream
from omniroute.engine.calls import API_CLIENT, Origin, build_call
from omniroute.engine.counting import count_for
from omniroute.engine.errors import BadRequest, EngineError, Forbidden, ModelNotFound
from omniroute.engine.router import Router
from omniroute.inspector import direct
from omniroute.services import Services, Tokens
from omniroute.translate.formats import TRANSLATED, WireFormat

router = APIRouter()

def direct_agent(request: Request, services: Services, api_key_id: str | None) -> str | None:
    """An agent calling us directly (its settings name our URL): by the per-tool key its settings
    carry, else by its User-Agent."""
    agent = request.app.state.tool_keys.agent(api_key_id)
    if agent is None:
        match = services.catalog.identify("", user_agent=request.headers.get("user-agent"))
        agent = match.agent.id if match is not None else None
    return agent


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("'model' is required and must be a non-empty string", param="model")
    return model.strip()


async def dispatch(
    request: Request, router: Router, tokens: Tokens, fmt: str, body: dict[str, Any], model: str, stream: bool
) -> Response:
    request.state.client_format = fmt
    services = services_of(request)
    headers = request.headers
    api_key_id = getattr(request.state, "api_key_id", None)  # set by the auth middleware
    # Attribution headers count only when the AgentBridge addon (same process) set them.
    origin = origin_from_headers(headers, tokens.internal)
    if origin is None and (agent := direct_agent(request, services, api_key_id)):
        origin = Origin(direct.DIRECT, agent)
    call = build_call(fmt, body, model, stream, origin=origin or API_CLIENT, headers=headers, api_key_id=api_key_id)
    ctx, row = call.ctx, None
    if ctx.source == direct.DIRECT and ctx.agent:
        # A direct agent call gets its agent's model mappings, as an intercepted one does
        # (and, like one, none for an agent that is never rerouted).
        catalog = services.catalog
        routable = ctx.agent in catalog and catalog.get(ctx.agent).routable
        mapped = services.mappings.target_for(ctx.agent, model) if routable else None
        row = direct.start(services.capture, request, getattr(request.state, "raw_body", b""), request_id=ctx.request_id,
                           agent=ctx.agent, wire_format=fmt, stream=stream, source_model=model, mapped_model=mapped)
        call.model = mapped or model
        call.ctx.asked_model = model if mapped else None
    elif ctx.source == direct.API:  # a plain /v1 client: a row too, unless capture_api is off
        row = direct.start(services.capture, request, getattr(request.state, "raw_body", b""), request_id=ctx.request_id,
                           agent=None, wire_format=fmt, stream=stream, source_model=model, mapped_model=None,
                           source=direct.API)
    try:
        reply = await unless_client_leaves(request.scope, request.receive, router.dispatch(call))
    except EngineError as exc:
        if row is not None:
            direct.failed(services.capture, row, exc, fmt)
        raise
    if reply is None:
        if row is not None:
            direct.finish(services.capture, row, 499, {}, b"", 0, "the client closed the connection")
        return Response(status_code=499)  # nobody reads it; uvicorn drops it with the connection
    if reply.stream is not None:
        headers = {**reply.headers, "cache-control": "no-cache", "x-accel-buffering": "no"}
        chunks = reply.stream if row is None else direct.tee(services.capture, row, reply.status, headers, reply.stream)
        return StreamReply(chunks, reply.status, headers, media_type=reply.media_type)
    if row is not None:
        direct.finish(services.capture, row, reply.status, reply.headers, reply.body or b"", len(reply.body or b""))
    return Response(reply.body, reply.status, reply.headers, media_type=reply.media_type)


def _stream(fmt: str, path: str, body: dict[str, Any]) -> bool:
    """The one stream rule (`wants_stream`), after checking the flag is a flag."""
    value = body.get("stream")
    if value is not None and not isinstance(value, bool):  # "yes" is not a flag, and bool("false") is True
        raise BadRequest("'stream' must be true or false", param="stream")
    return wants_stream(fmt, path, body)


async def body_call(request: Request, router: Router, tokens: Tokens, fmt: str) -> Response:
    request.state.client_format = fmt
    body = await json_object(request)
    return await dispatch(request, router, tokens, fmt, body, _model(body), _stream(fmt, request.scope["path"], body))


@router.post("/chat/completions")
async def chat_completions(request: Request, router: RouterDep, tokens: TokensDep) -> Response:
    return await body_call(request, router, tokens, WireFormat.OPENAI_CHAT)


def _scoped(model: str, provider: str | None) -> str:
    """`/v1/providers/{provider}/...`: the model is taken from that connection or provider type."""
    return model if provider is None or model.startswith(f"{provider}/") else f"{provider}/{model}"


async def _embeddings(request: Request, router: Router, tokens: Tokens, provider: str | None = None) -> Response:
    fmt = request.state.client_format = WireFormat.OPENAI_EMBEDDINGS
    body = await json_object(request)
    model = _scoped(_model(body), provider)
    if _stream(fmt, request.scope["path"], body):
        raise BadRequest("embeddings are not streamed; leave 'stream' out", param="stream")
    return await dispatch(request, router, tokens, fmt, body, model, False)


@router.post("/embeddings")
async def embeddings(request: Request, router: RouterDep, tokens: TokensDep) -> Response:
    return await _embeddings(request, router, tokens)


@router.post("/providers/{provider}/chat/completions")
async def provider_chat(request: Request, router: RouterDep, tokens: TokensDep, provider: str) -> Response:
    fmt = request.state.client_format = WireFormat.OPENAI_CHAT
    body = await json_object(request)
    model = _scoped(_model(body), provider)
    return await dispatch(request, router, tokens, fmt, body, model, _stream(fmt, request.scope["path"], body))


@router.post("/providers/{provider}/embeddings")
async def provider_embeddings(request: Request, router: RouterDep, tokens: TokensDep, provider: str) -> Response:
    return await _embeddings(request, router, tokens, provider)


@router.get("/providers/{provider}/models")
async def provider_models(registry: RegistryDep, provider: str) -> JSONResponse:
    snapshot = registry.snapshot
    matches = [c for c in snapshot.connections.values() if provider in (c.name, c.provider)]
    if not matches:
        raise ModelNotFound(f"no provider connection named or typed {provider!r}")
    data = [{"id": f"{c.name}/*", "object": "model", "owned_by": c.provider} for c in matches]
    return JSONResponse({"object": "list", "data": data})


@router.post("/messages")
async def messages(request: Request, router: RouterDep, tokens: TokensDep) -> Response:
    return await body_call(request, router, tokens, WireFormat.ANTHROPIC)


@router.post("/messages/count_tokens")
async def messages_count_tokens(request: Request, router: RouterDep) -> Response:
    """The provider the model resolves to counts, or the count is estimated (engine.counting)."""
    request.state.client_format = WireFormat.ANTHROPIC
    body = await json_object(request)
    model = _model(body)
    if not isinstance(body.get("messages"), list):
        raise BadRequest("'messages' is required and must be an array", param="messages")
    counted = await count_for(router, body, model)
    return Response(counted.body(), 200, counted.headers())


@router.post("/responses")
async def responses(request: Request, router: RouterDep, tokens: TokensDep) -> Response:
    return await body_call(request, router, tokens, WireFormat.OPENAI_RESPONSES)


@router.post("/api/chat")
async def ollama_chat(request: Request, router: RouterDep, tokens: TokensDep) -> Response:
    return await body_call(request, router, tokens, WireFormat.OLLAMA)  # streams unless told otherwise


async def gemini_call(request: Request, router: Router, tokens: Tokens, target: str) -> Response:
    request.state.client_format = WireFormat.GEMINI
    # rpartition: model ids may contain ':' themselves (Bedrock's "...-v1:0").
    model, _, action = target.rpartition(":")
    if action not in ("generateContent", "streamGenerateContent") or not model:
        raise ModelNotFound(
            f"unknown Gemini method {target!r}; use models/<model>:generateContent or :streamGenerateContent"
        )
    body = await json_object(request)
    stream = wants_stream(WireFormat.GEMINI, request.scope["path"], body)
    return await dispatch(request, router, tokens, WireFormat.GEMINI, body, model, stream)


@router.post("/models/{target:path}")
async def gemini_v1(request: Request, router: RouterDep, tokens: TokensDep, target: str) -> Response:
    return await gemini_call(request, router, tokens, target)


@router.get("/models")
async def list_models(registry: RegistryDep) -> JSONResponse:
    snapshot = registry.snapshot
    data = [{"id": name, "object": "model", "owned_by": "combo"} for name in snapshot.combos]
    data += [{"id": name, "object": "model", "owned_by": "alias"} for name in snapshot.aliases]
    data += [
        {"id": f"{c.name}/*", "object": "model", "owned_by": c.provider}
        for c in snapshot.connections.values()
        if c.is_active
    ]
    return JSONResponse({"object": "list", "data": data})


gemini_router = APIRouter()


@gemini_router.post("/v1beta/models/{target:path}")
async def gemini_v1beta(request: Request, router: RouterDep, tokens: TokensDep, target: str) -> Response:
    return await gemini_call(request, router, tokens, target)


@router.post("/bridge/{wire_format}", include_in_schema=False)
async def bridged_call(request: Request, router: RouterDep, tokens: TokensDep, wire_format: str) -> Response:
    """Agent calls rewritten by the AgentBridge addon: body untouched, target in headers."""
    if not is_internal(request.headers, tokens.internal):
        raise Forbidden("this route only takes calls rewritten by OmniRoute's AgentBridge")
    if wire_format not in TRANSLATED:
        raise BadRequest(f"wire format {wire_format!r} cannot be routed")
    request.state.client_format = wire_format
    model = request.headers.get(H_MODEL, "")
    if not model:
        raise BadRequest(f"missing {H_MODEL} header")
    body = await json_object(request)
    return await dispatch(request, router, tokens, wire_format, body, model, request.headers.get(H_STREAM) == "1")
