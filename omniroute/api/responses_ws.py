"""Responses over WebSocket (the transport Codex tries first).

The client sends text frames `{"type": "response.create", ...request body}`; each is one
streamed Responses call through the engine, whose events go back one JSON object per text
frame (the same objects as the SSE `data:` lines). Calls the AgentBridge rewrote carry the
agent's id, and each frame's model is mapped with that agent's rules.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from omniroute.api.deps import services_of
from omniroute.api.ws_stream import sse_payloads
from omniroute.bridge.handoff import origin_from_headers
from omniroute.engine.calls import API_CLIENT, Origin, build_call
from omniroute.engine.body import parse_json_object
from omniroute.engine.errors import BadRequest, EngineError
from omniroute.services import Services

router = APIRouter()
FORMAT = "openai-responses"


def _error_frame(message: str, status: int = 400, code: str = "invalid_request_error") -> str:
    return json.dumps({"type": "error", "status": status, "error": {"type": code, "message": message}})


@router.websocket("/responses")
async def responses_websocket(ws: WebSocket) -> None:
    services = services_of(ws)
    origin = origin_from_headers(ws.headers, services.tokens.internal) or API_CLIENT
    await ws.accept()
    try:
        while True:
            await _one_response(services, ws, await ws.receive_text(), origin)
    except WebSocketDisconnect:
        return


async def _one_response(services: Services, ws: WebSocket, text: str, origin: Origin) -> None:
    try:  # the same parser as HTTP bodies: the same depth limit
        frame = parse_json_object(text.encode())
    except BadRequest as exc:
        await ws.send_text(_error_frame(exc.message.replace("request body", "frame", 1)))
        return
    if frame.get("type") != "response.create":
        await ws.send_text(_error_frame('expected a {"type": "response.create", ...} frame'))
        return
    body = {k: v for k, v in frame.items() if k != "type"}
    model = body.get("model")
    if not isinstance(model, str) or not model:
        await ws.send_text(_error_frame("'model' is required"))
        return
    agent = origin.agent
    if agent:
        target = services.mappings.target_for(agent, model)
        if target is None:
            await ws.send_text(_error_frame(
                f"model {model!r} has no mapping for agent {agent}; add one, or use HTTPS", 404, "not_found_error"
            ))
            return
        model = target
    try:
        reply = await services.router.dispatch(build_call(FORMAT, body, model, True, origin=origin))
    except EngineError as exc:
        await ws.send_text(_error_frame(exc.message, exc.status, exc.type or "api_error"))
        return
    if reply.stream is None:  # a client error the upstream returned as one JSON body
        await ws.send_text(_error_frame((reply.body or b"").decode(errors="replace"), reply.status))
        return
    async for data in sse_payloads(reply.stream):
        await ws.send_text(data)
