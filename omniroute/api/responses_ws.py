"""Responses over WebSocket (the transport Codex tries first).

The client sends text frames `{"type": "response.create", ...request body}`; each is one
streamed Responses call through the engine, whose events go back one JSON object per text
frame (the same objects as the SSE `data:` lines). Calls the AgentBridge rewrote carry the
agent's id, and each frame's model is mapped with that agent's rules. Each response is a row
in the inspector (`inspector.ws_rows`), errors included. A warm-up frame (`generate: false`,
Codex's first) is answered here: an empty completed response, nothing sent upstream; the
socket keeps its conversation for `previous_response_id` (`translate.responses_chain`).
"""

from __future__ import annotations

import json
from contextlib import aclosing

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from omniroute.api.deps import services_of
from omniroute.api.ws_stream import sse_payloads
from omniroute.bridge.handoff import origin_from_headers
from omniroute.engine.body import parse_json_object
from omniroute.engine.calls import API_CLIENT, Origin, build_call
from omniroute.engine.errors import BadRequest, EngineError
from omniroute.inspector import ws_rows
from omniroute.services import Services
from omniroute.translate.responses_chain import Chain
from omniroute.translate.responses_warmup import warmup_events

router = APIRouter()
FORMAT = "openai-responses"


def _error_frame(message: str, status: int = 400, code: str = "invalid_request_error") -> str:
    return json.dumps({"type": "error", "status": status, "error": {"type": code, "message": message}})


@router.websocket("/responses")
async def responses_websocket(ws: WebSocket) -> None:
    services = services_of(ws)
    origin = origin_from_headers(ws.headers, services.tokens.internal) or API_CLIENT
    await ws.accept()
    chain = Chain()  # the socket's conversation, for previous_response_id
    try:
        while True:
            await _one_response(services, ws, await ws.receive_text(), origin, chain)
    except WebSocketDisconnect:
        return


async def _one_response(services: Services, ws: WebSocket, text: str, origin: Origin, chain: Chain) -> None:
    row: ws_rows.ResponseRow | None = None

    async def fail(message: str, status: int = 400, code: str = "invalid_request_error") -> None:
        frame = _error_frame(message, status, code)
        if row is not None:
            row.event(frame)
            row.close(status, message)
        await ws.send_text(frame)

    try:  # the same parser as HTTP bodies: the same depth limit
        frame = parse_json_object(text.encode())
    except BadRequest as exc:
        row = ws_rows.start(services.capture, ws, origin, text)
        await fail(exc.message.replace("request body", "frame", 1))
        return
    model = frame.get("model")
    source_model = model if isinstance(model, str) else None
    agent = origin.agent
    target = services.mappings.target_for(agent, model) if agent and source_model else None
    row = ws_rows.start(services.capture, ws, origin, text, model=source_model, mapped=target)
    if frame.get("type") != "response.create":
        await fail('expected a {"type": "response.create", ...} frame')
        return
    body = chain.expand({k: v for k, v in frame.items() if k != "type"})
    if not source_model:
        await fail("'model' is required")
        return
    if agent and target is None:
        await fail(f"model {model!r} has no mapping for agent {agent}; add one, or use HTTPS", 404, "not_found_error")
        return
    if body.get("generate") is False:
        for event in warmup_events(body):
            data = json.dumps(event)
            chain.event(data)
            if row is not None:
                row.event(data)
            await ws.send_text(data)
        if row is not None:
            row.close(200)
        return
    try:
        api_key_id = ws.scope.get("state", {}).get("api_key_id")  # set by the auth middleware
        call = build_call(FORMAT, body, target or source_model, True, origin=origin, api_key_id=api_key_id)
        reply = await services.router.dispatch(call)
    except EngineError as exc:
        await fail(exc.message, exc.status, exc.type or "api_error")
        return
    if reply.stream is None:  # a client error the upstream returned as one JSON body
        await fail((reply.body or b"").decode(errors="replace"), reply.status, "api_error")
        return
    error = None
    try:
        async with aclosing(sse_payloads(reply.stream)) as payloads:  # closes the stream too
            async for data in payloads:
                chain.event(data)
                if row is not None:
                    row.event(data)
                await ws.send_text(data)
    except BaseException as exc:  # the client left, or the stream broke: the row says so
        error = f"stream ended early: {exc.__class__.__name__}"
        raise
    finally:
        if row is not None:
            row.close(reply.status, error)
