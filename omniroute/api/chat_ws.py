"""Chat completions over a WebSocket: `GET /v1/ws` (and `/api/v1/ws`).

Frames, as the OmniRoute API specification describes them: the client sends
`{"type": "request", "id", "payload": {model, messages, ...}}` to start a streamed chat
completion and `{"type": "cancel", "id"}` to stop it. Each completion chunk comes back as
`{"type": "chunk", "id", "payload": <chat.completion.chunk>}`, then `{"type": "done", "id"}`;
a failure is `{"type": "error", "id", "error": {"message", "status"}}`. Several requests may
run at once on one socket. A plain `GET` answers 426; `?handshake=1` describes the protocol.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from omniroute.api.deps import services_of
from omniroute.api.ws_stream import sse_payloads
from omniroute.bridge.handoff import origin_from_headers
from omniroute.engine.body import parse_json_object
from omniroute.engine.calls import API_CLIENT, Origin, build_call
from omniroute.engine.errors import BadRequest, EngineError
from omniroute.services import Services
from omniroute.translate.formats import WireFormat

router = APIRouter()

DESCRIPTOR = {
    "protocol": "omniroute-chat-ws",
    "auth": "Authorization: Bearer <key> on the upgrade request, as for /v1",
    "client": {"request": {"type": "request", "id": "<your id>", "payload": "<chat completion body>"},
               "cancel": {"type": "cancel", "id": "<your id>"}},
    "server": ["chunk", "done", "error"],
}
UPGRADE = {"200": {"description": "The protocol descriptor (`?handshake=1`)"},
           "426": {"description": "Upgrade Required: connect with a WebSocket or ask for `?handshake=1`"}}


@router.get("/ws", responses=UPGRADE)  # type: ignore[arg-type]
async def chat_ws_http(handshake: str | None = Query(default=None, pattern="^1$")) -> JSONResponse:
    if handshake == "1":
        return JSONResponse(DESCRIPTOR)
    return JSONResponse({"error": {"message": "Upgrade Required: connect with a WebSocket, or GET ?handshake=1",
                                   "type": "invalid_request_error"}}, status_code=426, headers={"upgrade": "websocket"})


def _frame(kind: str, request_id: Any, **fields: Any) -> str:
    return json.dumps({"type": kind, "id": request_id, **fields})


@router.websocket("/ws")
async def chat_websocket(ws: WebSocket) -> None:
    services = services_of(ws)
    origin = origin_from_headers(ws.headers, services.tokens.internal) or API_CLIENT
    await ws.accept()
    running: dict[Any, asyncio.Task[None]] = {}
    try:
        while True:
            text = await ws.receive_text()
            try:  # the same parser as HTTP bodies: the same depth limit
                frame = parse_json_object(text.encode())
            except BadRequest as exc:
                await ws.send_text(_frame("error", None, error={"message": exc.message, "status": 400}))
                continue
            request_id, kind = frame.get("id"), frame.get("type")
            if kind == "cancel":
                task = running.pop(request_id, None)
                if task is not None:
                    task.cancel()
                continue
            payload = frame.get("payload")
            if kind != "request" or not isinstance(payload, dict):
                message = 'expected {"type": "request", "id", "payload": {...}} or {"type": "cancel", "id"}'
                await ws.send_text(_frame("error", request_id, error={"message": message, "status": 400}))
                continue
            task = asyncio.ensure_future(_complete(services, ws, request_id, payload, origin))
            running[request_id] = task
            task.add_done_callback(lambda done, rid=request_id: running.pop(rid, None) if running.get(rid) is done else None)
    except WebSocketDisconnect:
        pass
    finally:
        for task in running.values():
            task.cancel()


async def _complete(services: Services, ws: WebSocket, request_id: Any, payload: dict[str, Any],
                    origin: Origin) -> None:
    model = payload.get("model")
    if not isinstance(model, str) or not model.strip():
        await ws.send_text(_frame("error", request_id, error={"message": "'model' is required", "status": 400}))
        return
    body = {**payload, "stream": True}
    try:
        reply = await services.router.dispatch(build_call(WireFormat.OPENAI_CHAT, body, model.strip(), True,
                                                          origin=origin, headers=ws.headers))
    except EngineError as exc:
        await ws.send_text(_frame("error", request_id, error={"message": exc.message, "status": exc.status}))
        return
    if reply.stream is None:  # a client error the upstream returned as one JSON body
        detail = (reply.body or b"").decode(errors="replace")
        await ws.send_text(_frame("error", request_id, error={"message": detail, "status": reply.status}))
        return
    async for data in sse_payloads(reply.stream):
        await ws.send_text(_frame("chunk", request_id, payload=json.loads(data)))
    await ws.send_text(_frame("done", request_id))
