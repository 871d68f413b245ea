"""The Responses API over WebSocket, as the Codex CLI speaks it, for the mock provider."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.support.mock_faults import Fault, FaultError, fault_from_model
from tests.support.mock_formats import dumps, ws_error_event
from tests.support.mock_http import (
    abort_connection,
    client_gone,
    encode_stream,
    error_response,
    parse_body,
)
from tests.support.mock_openai import ResponsesBuilder, plan_responses
from tests.support.mock_state import NO_FAULT, MockState

JSON = dict[str, Any]


async def responses_websocket(state: MockState, ws: WebSocket) -> None:
    """Codex's transport: ``response.create`` text frames in, one event per text frame out.

    A fault on the upgrade request (header, or a rule with ``match.kind = ws_handshake``) with a
    status rejects the handshake with that HTTP status; its other fields apply to every
    response on the socket. Per-response faults (model shortcuts, rules) match kind ``ws``.
    """
    try:
        session_fault = state.resolve_fault(ws, None, "ws_handshake")
        problem = None
    except FaultError as exc:
        session_fault, problem = NO_FAULT, str(exc)
    entry = state.record(ws, "websocket", None, b"", None, session_fault)
    frames: list[JSON] = entry["frames"]
    delay = state.first_byte_delay(session_fault)
    if delay:
        await asyncio.sleep(delay)
    status = 400 if problem else session_fault.status
    if status is not None:
        message = problem or session_fault.message or f"mock fault: HTTP {status}"
        await _deny(ws, error_response("openai", status, message, session_fault.retry_after))
        return
    await ws.accept()
    # The handshake already took its delay; the rest of the session fault is per response.
    per_response = Fault(**{**session_fault.to_dict(), "delay_ms": None})
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            text = (message.get("bytes") or b"").decode("utf-8", "replace")
        parsed, bad = parse_body(text.encode())
        frames.append({"from": "client", "data": parsed if bad is None else text})
        if bad or not isinstance(parsed, dict) or parsed.get("type") != "response.create":
            if not await _ws_send(ws, frames, _ws_error(400, bad or "expected response.create")):
                return
            continue
        body = {k: v for k, v in parsed.items() if k != "type"}
        if isinstance(body.get("response"), dict):  # Realtime-style nesting, also accepted
            body.update(body.pop("response"))
        if not await _ws_respond(state, ws, frames, body, per_response):
            return


async def _ws_respond(state: MockState, ws: WebSocket, frames: list[JSON], body: JSON,
                      session_fault: Fault) -> bool:
    """Answer one response.create; False once the socket is gone."""
    model = body.get("model") if isinstance(body.get("model"), str) else None
    fault = session_fault.over(fault_from_model(model))
    fault = fault.over(state.faults.take(ws.url.path, model, "GET", "ws"))
    delay = state.first_byte_delay(fault)
    if delay:
        await asyncio.sleep(delay)
    if not model:
        return await _ws_send(ws, frames, _ws_error(400, "model is required"))
    if fault.status is not None:
        message = fault.message or f"mock fault: HTTP {fault.status}"
        return await _ws_send(ws, frames, _ws_error(fault.status, message, fault.retry_after))
    builder = ResponsesBuilder(plan_responses(body, model), body, state.ids)
    events = [e.data for e in builder.events()]
    if not fault.malformed:
        frames_out: list[tuple[str, Any]] = [(dumps(e), e) for e in events]
    else:  # record broken frames as the text actually sent
        texts = [t.decode() for t in encode_stream(events, "ndjson", fault.malformed)]
        if fault.malformed == "sse":  # a framing error on a socket: two events in one frame
            bad = min(1, len(texts) - 1)
            texts[bad: bad + 2] = ["".join(texts[bad: bad + 2])]
        frames_out = [(t.rstrip("\n"), t.rstrip("\n")) for t in texts]
    return await _ws_send(ws, frames, frames_out, fault, state.event_delay(fault))


def _ws_error(status: int, message: str, retry_after: float | None = None) -> list[tuple[str, Any]]:
    event = ws_error_event(status, message, retry_after)
    return [(dumps(event), event)]


async def _ws_send(ws: WebSocket, frames: list[JSON], out: Sequence[tuple[str, Any]],
                   fault: Fault = NO_FAULT, event_delay: float = 0.0) -> bool:
    """Send (text, recorded form) frames; False once the socket is gone or was reset."""
    limit = fault.reset_after
    try:
        for i, (text, recorded) in enumerate(out):
            if limit is not None and i >= limit:
                break
            if i and event_delay:
                await asyncio.sleep(event_delay)
            await ws.send_text(text)
            frames.append({"from": "server", "data": recorded})
    except (WebSocketDisconnect, RuntimeError, OSError):
        return False
    if limit is not None:
        await abort_connection(ws.scope, None, fault.reset_mode)
        return False
    return True


async def _deny(ws: WebSocket, response: Response) -> None:
    if "websocket.http.response" not in ws.scope.get("extensions", {}):
        await ws.close(code=1008)  # servers without the denial extension can only close
        return
    await ws.send_denial_response(response)
    # uvicorn's websockets-sansio protocol only marks the handshake done once the connection
    # is lost; returning earlier makes it log a spurious "returned without completing
    # handshake" error, so wait (briefly) for that.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(1):
            while not client_gone(ws.scope):
                await asyncio.sleep(0.001)
