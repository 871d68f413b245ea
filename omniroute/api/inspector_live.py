"""Traffic Inspector: live WebSocket, HAR export, and ingest from another process.

- `ws`: `{"type": "snapshot", "data": [...]}` on connect, then `new` / `update` / `clear` (and
  `resync` when this client fell behind: fetch `requests` again), plus `{"type": "ping"}` every
  ~20 s so proxies and browsers keep the socket open and a dead client is noticed. Loopback only:
  the client address must be loopback, and a browser's `Origin`, when sent, must be a loopback
  origin (a page on another site must not read this machine's traffic); otherwise the socket is
  closed with 1008 (policy violation) before any event is sent. Past the listener cap
  (`OMNIROUTE_INSPECTOR_MAX_LISTENERS`) a new socket is closed with 1013 (try again later), and
  a client too slow to keep up even after a `resync` is closed with 1013 too.
- `export.har`: the ring's rows, same filters as `requests`, as HAR 1.2 (oldest first).
- `internal/ingest`: rows captured elsewhere; needs the ingest token (`x-inspector-ingest-token`
  or `Authorization: Bearer`), 401 otherwise. Rows are masked again on arrival.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, WebSocket
from fastapi.responses import Response
from starlette.websockets import WebSocketDisconnect, WebSocketState

from omniroute.api.deps import CaptureDep, RingDep, SessionsDep, SettingsDep, TokensDep, services_of
from omniroute.api.guards import is_loopback, loopback_only
from omniroute.api.inspector import PREFIX, ring_filter
from omniroute.engine.errors import BadRequest, Unauthorized
from omniroute.inspector.har import har_bytes
from omniroute.inspector.ingest import HEADER, ingested_row, token_matches
from omniroute.inspector.model import IN_FLIGHT, InterceptedRequest
from omniroute.inspector.ring import CLOSED, RingFilter, TooManyListeners, event_text

PING_INTERVAL_S = 20.0
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013

router = APIRouter(prefix=PREFIX, tags=["Traffic Inspector"], dependencies=[Depends(loopback_only)])
# WebSocket routes get no HTTP-request dependencies: the socket checks its own peer.
ws_router = APIRouter(prefix=PREFIX, tags=["Traffic Inspector"])


def loopback_origin(origin: str) -> bool:
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and is_loopback(parts.hostname)


@ws_router.websocket("/ws")
async def live(ws: WebSocket) -> None:
    client = ws.client.host if ws.client else None
    origin = ws.headers.get("origin")
    if not is_loopback(client) or (origin is not None and not loopback_origin(origin)):
        await ws.accept()
        await ws.close(POLICY_VIOLATION, "the inspector socket is only for this machine (loopback origins)")
        return
    ring = services_of(ws).ring
    interval = _ping_interval(ws.query_params.get("pingInterval"))
    await ws.accept()
    try:
        queue = ring.subscribe(listener=True)
    except TooManyListeners as exc:
        await ws.close(TRY_AGAIN_LATER, str(exc))
        return
    closed = asyncio.create_task(_until_closed(ws))
    try:
        while not closed.done():
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, closed}, timeout=interval,
                                         return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                event = getter.result()
                if event is CLOSED:
                    await ws.close(TRY_AGAIN_LATER, "too slow to follow the live events; reconnect for a snapshot")
                    break
                await ws.send_text(event_text(event))
                continue
            getter.cancel()
            if not done:
                await ws.send_text(json.dumps({"type": "ping", "ts": time.time()}))
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client went away mid-send
    finally:
        ring.unsubscribe(queue)
        closed.cancel()
        if ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close()


def _ping_interval(raw: str | None) -> float:
    """`?pingInterval=S` (1-60 s) lets a client (or a test) ask for a different keepalive."""
    try:
        return min(max(float(raw), 1.0), 60.0) if raw else PING_INTERVAL_S
    except ValueError:
        return PING_INTERVAL_S


async def _until_closed(ws: WebSocket) -> None:
    """The socket is write-only for us; reading tells us promptly when the client leaves."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return


def har_response(rows: list[InterceptedRequest], body: bytes, name: str) -> Response:
    return Response(body, media_type="application/json", headers={
        "content-disposition": f'attachment; filename="{name}"', "x-har-entries": str(len(rows)),
    })


@router.get("/export.har")
async def export_har(ring: RingDep, filt: Annotated[RingFilter, Depends(ring_filter)]) -> Response:
    rows = list(reversed(ring.query(filt, limit=max(len(ring), 1)).items))
    # Building the HAR (mitmproxy flows, JSON) is CPU work: off the event loop.
    body = await asyncio.to_thread(har_bytes, rows)
    return har_response(rows, body, "omniroute-inspector.har")


def _presented_token(request: Request) -> str | None:
    token = request.headers.get(HEADER)
    if token:
        return token
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


@router.post("/internal/ingest", status_code=204)
async def ingest(
    request: Request, tokens: TokensDep, settings: SettingsDep, capture: CaptureDep, ring: RingDep,
    sessions: SessionsDep,
) -> Response:
    if not token_matches(_presented_token(request), tokens.ingest):
        raise Unauthorized(f"a valid ingest token is required in the {HEADER} header")
    try:
        data: Any = json.loads(await request.body())
        rows = data if isinstance(data, list) else [data]
        parsed = [ingested_row(item, capture.masker, settings.inspector_body_cap)
                  for item in rows]
    except (ValueError, TypeError, KeyError) as exc:
        raise BadRequest(f"not an InterceptedRequest (or a list of them): {exc.__class__.__name__}: {exc}") from None
    for row in parsed:
        row.session_id = row.session_id or capture.session_id
        if row.id in ring:
            ring.update(row)
        else:
            ring.add(row)
        recording = row.session_id is not None and row.session_id == capture.session_id
        if recording and row.status != IN_FLIGHT and capture.records(row):
            sessions.record(row)
    return Response(status_code=204)
