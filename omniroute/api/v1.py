"""Model-API compatibility routes, served under `/v1` and `/api/v1`.

Each route only names the client's wire format and where the model and stream flag are;
the engine does the rest, so every client format reaches every provider type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from omniroute.api.body import json_object
from omniroute.api.deps import runtime_of
from omniroute.bridge.interceptor import H_INTERNAL, H_MODEL, H_STREAM, ROUTABLE_FORMATS
from omniroute.engine.errors import BadRequest, Forbidden, ModelNotFound
from omniroute.engine.router import FORWARDED_HEADERS, Call, CallContext, Reply, forwarded_headers
from omniroute.inspector import direct
from omniroute.inspector.ingest import token_matches
from omniroute.providers.adapters import EMBEDDINGS
from omniroute.translate import count_tokens

router = APIRouter()

INTERNAL_HEADER = H_INTERNAL
_FORWARDED_RAW = {name.encode("latin-1"): name for name in FORWARDED_HEADERS}
_INTERNAL_RAW = INTERNAL_HEADER.encode("latin-1")


def _context(request: Request) -> CallContext:
    runtime = runtime_of(request)
    # One pass over the raw ASGI headers (names are lower-case there) instead of a scan per
    # header looked up; the first of repeated headers counts, as in `request.headers.get`.
    forward: dict[str, str] = {}
    token: str | None = None
    for raw_name, raw_value in request.scope["headers"]:
        if (name := _FORWARDED_RAW.get(raw_name)) is not None:
            forward.setdefault(name, raw_value.decode("latin-1"))
        elif raw_name == _INTERNAL_RAW and token is None:
            token = raw_value.decode("latin-1")
    ctx = CallContext(
        forward_headers=forwarded_headers(forward),
        api_key_id=getattr(request.state, "api_key_id", None),  # set by the auth middleware
    )
    # Attribution headers count only when the AgentBridge addon (same process) set them.
    # Compared as bytes: a header may carry any byte, and compare_digest refuses non-ASCII str.
    if runtime.internal_token and token_matches(token, runtime.internal_token):
        ctx.source = request.headers.get("x-omniroute-source", "agent-bridge")
        ctx.agent = request.headers.get("x-omniroute-agent")
        ctx.original_host = request.headers.get("x-omniroute-original-host")
    elif agent := direct_agent(request, ctx.api_key_id):
        ctx.source, ctx.agent = direct.DIRECT, agent
    return ctx


def direct_agent(request: Request, api_key_id: str | None) -> str | None:
    """An agent calling us directly (its settings name our URL): by the per-tool key its settings
    carry, else by its User-Agent."""
    agent = request.app.state.tool_keys.agent(api_key_id)
    if agent is None:
        match = runtime_of(request).catalog.identify("", user_agent=request.headers.get("user-agent"))
        agent = match.agent.id if match is not None else None
    return agent


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("'model' is required and must be a non-empty string", param="model")
    return model.strip()


async def dispatch(request: Request, fmt: str, body: dict[str, Any], model: str, stream: bool) -> Response:
    request.state.client_format = fmt
    runtime = runtime_of(request)
    ctx = _context(request)
    row = None
    if ctx.source == direct.DIRECT and ctx.agent:
        # A direct agent call gets its agent's model mappings, as an intercepted one does
        # (and, like one, none for an agent that is never rerouted).
        routable = ctx.agent in runtime.catalog and runtime.catalog.get(ctx.agent).routable
        mapped = runtime.mappings.target_for(ctx.agent, model) if routable else None
        row = direct.start(runtime.capture, request, getattr(request.state, "raw_body", b""), request_id=ctx.request_id,
                           agent=ctx.agent, wire_format=fmt, stream=stream, source_model=model, mapped_model=mapped)
        model = mapped or model
    call = Call(fmt, body, model, stream, ctx)
    reply = await _unless_client_leaves(request, runtime.router.dispatch(call))
    if reply is None:
        if row is not None:
            direct.finish(runtime.capture, row, 499, {}, b"", 0, "the client closed the connection")
        return Response(status_code=499)  # nobody reads it; uvicorn drops it with the connection
    if reply.stream is not None:
        headers = {**reply.headers, "cache-control": "no-cache", "x-accel-buffering": "no"}
        chunks = reply.stream if row is None else direct.tee(runtime.capture, row, reply.status, headers, reply.stream)
        return StreamingResponse(chunks, reply.status, headers, media_type=reply.media_type)
    if row is not None:
        direct.finish(runtime.capture, row, reply.status, reply.headers, reply.body or b"", len(reply.body or b""))
    return Response(reply.body, reply.status, reply.headers, media_type=reply.media_type)


async def _unless_client_leaves(request: Request, work: Coroutine[Any, Any, Reply]) -> Reply | None:
    """Await ``work`` (the engine, up to the upstream's first byte); ``None`` if the client
    hung up meanwhile, which cancels it: a model can think for minutes, and nobody is
    waiting any more. Once a streamed reply starts, StreamingResponse watches instead."""
    me = asyncio.current_task()
    assert me is not None
    gone = False

    def hang_up(watcher: asyncio.Future[None]) -> None:
        nonlocal gone
        if not watcher.cancelled():
            gone = True
            me.cancel()  # the engine records the call as 499 and closes the upstream request

    watcher = asyncio.ensure_future(_client_gone(request))
    watcher.add_done_callback(hang_up)
    try:
        return await work
    except asyncio.CancelledError:
        if gone and me.uncancel() == 0:  # our own cancellation, not the server shutting down
            return None
        raise
    finally:
        watcher.remove_done_callback(hang_up)
        watcher.cancel()


async def _client_gone(request: Request) -> None:
    # The body has been read, so the next ASGI message can only be the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _stream(body: dict[str, Any], default: bool = False) -> bool:
    value = body.get("stream")
    if value is None:
        return default
    if not isinstance(value, bool):  # "yes" is not a flag, and bool("false") is True
        raise BadRequest("'stream' must be true or false", param="stream")
    return value


async def _body_call(request: Request, fmt: str, default_stream: bool = False) -> Response:
    request.state.client_format = fmt
    body = await json_object(request)
    return await dispatch(request, fmt, body, _model(body), _stream(body, default_stream))


@router.post("/chat/completions")
async def chat_completions(request: Request) -> Response:
    return await _body_call(request, "openai-chat")


async def _embeddings(request: Request, provider: str | None = None) -> Response:
    request.state.client_format = EMBEDDINGS
    body = await json_object(request)
    model = _model(body)
    if provider is not None and not model.startswith(f"{provider}/"):
        model = f"{provider}/{model}"
    if _stream(body):
        raise BadRequest("embeddings are not streamed; leave 'stream' out", param="stream")
    return await dispatch(request, EMBEDDINGS, body, model, False)


@router.post("/embeddings")
async def embeddings(request: Request) -> Response:
    return await _embeddings(request)


@router.post("/providers/{provider}/chat/completions")
async def provider_chat(request: Request, provider: str) -> Response:
    """`/v1/providers/{provider}/...`: the model is taken from that connection or provider type."""
    request.state.client_format = "openai-chat"
    body = await json_object(request)
    model = _model(body)
    if not model.startswith(f"{provider}/"):
        model = f"{provider}/{model}"
    return await dispatch(request, "openai-chat", body, model, _stream(body))


@router.post("/providers/{provider}/embeddings")
async def provider_embeddings(request: Request, provider: str) -> Response:
    return await _embeddings(request, provider)


@router.get("/providers/{provider}/models")
async def provider_models(request: Request, provider: str) -> JSONResponse:
    snapshot = runtime_of(request).registry.snapshot
    matches = [c for c in snapshot.connections.values() if provider in (c.name, c.provider)]
    if not matches:
        raise ModelNotFound(f"no provider connection named or typed {provider!r}")
    data = [{"id": f"{c.name}/*", "object": "model", "owned_by": c.provider} for c in matches]
    return JSONResponse({"object": "list", "data": data})


@router.post("/messages")
async def messages(request: Request) -> Response:
    return await _body_call(request, "anthropic")


@router.post("/messages/count_tokens")
async def messages_count_tokens(request: Request) -> Response:
    request.state.client_format = "anthropic"
    body = await json_object(request)
    _model(body)
    if not isinstance(body.get("messages"), list):
        raise BadRequest("'messages' is required and must be an array", param="messages")
    return JSONResponse({"input_tokens": count_tokens(body, "anthropic")})


@router.post("/responses")
async def responses(request: Request) -> Response:
    return await _body_call(request, "openai-responses")


@router.post("/api/chat")
async def ollama_chat(request: Request) -> Response:
    # Ollama streams unless told otherwise.
    return await _body_call(request, "ollama", default_stream=True)


async def gemini_call(request: Request, target: str) -> Response:
    request.state.client_format = "gemini"
    model, _, action = target.partition(":")
    if action not in ("generateContent", "streamGenerateContent") or not model:
        raise ModelNotFound(
            f"unknown Gemini method {target!r}; use models/<model>:generateContent or :streamGenerateContent"
        )
    body = await json_object(request)
    return await dispatch(request, "gemini", body, model, action == "streamGenerateContent")


@router.post("/models/{target:path}")
async def gemini_v1(request: Request, target: str) -> Response:
    return await gemini_call(request, target)


@router.get("/models")
async def list_models(request: Request) -> JSONResponse:
    snapshot = runtime_of(request).registry.snapshot
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
async def gemini_v1beta(request: Request, target: str) -> Response:
    return await gemini_call(request, target)


@router.post("/bridge/{wire_format}", include_in_schema=False)
async def bridged_call(request: Request, wire_format: str) -> Response:
    """Agent calls rewritten by the AgentBridge addon: body untouched, target in headers."""
    runtime = runtime_of(request)
    token = request.headers.get(INTERNAL_HEADER)
    if not token_matches(token, runtime.internal_token):
        raise Forbidden("this route only takes calls rewritten by OmniRoute's AgentBridge")
    if wire_format not in ROUTABLE_FORMATS:
        raise BadRequest(f"wire format {wire_format!r} cannot be routed")
    request.state.client_format = wire_format
    model = request.headers.get(H_MODEL, "")
    if not model:
        raise BadRequest(f"missing {H_MODEL} header")
    body = await json_object(request)
    return await dispatch(request, wire_format, body, model, request.headers.get(H_STREAM) == "1")
