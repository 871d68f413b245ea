"""Traffic Inspector recording sessions: start, list, get (with rows), stop, rename, delete, HAR.

Sessions and their rows live in the database (`inspector.sessions.SessionStore`) and survive a
restart. Database work runs in a store thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from omniroute.api.deps import SessionsDep, StoreDep
from omniroute.api.fields import NoControl
from omniroute.api.guards import loopback_only
from omniroute.api.inspector import PREFIX, ring_filter
from omniroute.api.inspector_live import har_response
from omniroute.db.store import Store
from omniroute.engine.errors import BadRequest, EngineError
from omniroute.inspector.har import har_bytes
from omniroute.inspector.sessions import SessionNotFound

router = APIRouter(prefix=f"{PREFIX}/sessions", tags=["Traffic Inspector"], dependencies=[Depends(loopback_only)])


class SessionMissing(EngineError):
    status = 404


class SessionStart(BaseModel):
    name: Annotated[str, Field(max_length=200), NoControl] | None = None
    profile: Literal["llm", "custom", "all"] | None = None


class SessionPatch(BaseModel):
    action: Literal["stop", "rename"]
    name: Annotated[str, Field(max_length=200), NoControl] | None = None


async def _call(store: Store, fn: Any, *args: Any) -> Any:
    try:
        return await store.call(fn, *args)
    except SessionNotFound as exc:
        raise SessionMissing(f"recording session {exc.args[0]!r} not found") from None


@router.get("")
async def list_sessions(store: StoreDep, sessions: SessionsDep) -> list[dict[str, Any]]:
    return await _call(store, sessions.list)  # type: ignore[no-any-return]


@router.post("", status_code=201)
async def start_session(
    store: StoreDep, sessions: SessionsDep, payload: SessionStart | None = None
) -> JSONResponse:
    options = payload or SessionStart()
    name = options.name.strip() if options.name else None
    session = await _call(store, sessions.start, name, options.profile)
    return JSONResponse(session, status_code=201)


@router.get("/{session_id}")
async def get_session(store: StoreDep, sessions: SessionsDep, session_id: str) -> dict[str, Any]:
    session = await _call(store, sessions.get, session_id)
    rows = await _call(store, sessions.rows, session_id)
    return {**session, "requests": [row.to_dict() for row in rows]}


@router.patch("/{session_id}")
async def patch_session(
    store: StoreDep, sessions: SessionsDep, session_id: str, payload: SessionPatch
) -> dict[str, Any]:
    if payload.action == "stop":
        return await _call(store, sessions.stop, session_id)  # type: ignore[no-any-return]
    name = (payload.name or "").strip()
    if not name:
        raise BadRequest("rename needs a non-empty 'name'", param="name")
    return await _call(store, sessions.rename, session_id, name)  # type: ignore[no-any-return]


@router.delete("/{session_id}", status_code=204)
async def delete_session(store: StoreDep, sessions: SessionsDep, session_id: str) -> Response:
    await _call(store, sessions.delete, session_id)
    return Response(status_code=204)


@router.get("/{session_id}/export.har")
async def export_session(
    store: StoreDep, sessions: SessionsDep, session_id: str, filter: str | None = None
) -> Response:
    """The session's rows as HAR 1.2; `filter` (ours) narrows them with a mitmproxy expression."""
    predicate = ring_filter(filter=filter).predicate if filter else None
    await _call(store, sessions.get, session_id)
    rows = list(reversed(await _call(store, sessions.rows, session_id)))
    if predicate is not None:
        rows = [row for row in rows if predicate(row)]
    body = await asyncio.to_thread(har_bytes, rows)
    return har_response(rows, body, f"omniroute-session-{session_id}.har")
