"""Traffic Inspector routes (`/api/tools/traffic-inspector/...`), loopback only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from omniroute.api.deps import runtime_of
from omniroute.api.guards import loopback_only
from omniroute.engine.errors import BadRequest, EngineError
from omniroute.inspector.flowfilter import FlowFilterError, compile_filter
from omniroute.inspector.ring import RingFilter

router = APIRouter(
    prefix="/api/tools/traffic-inspector", tags=["Traffic Inspector"], dependencies=[Depends(loopback_only)]
)


class RequestNotFound(EngineError):
    status = 404


@router.get("/requests")
async def list_requests(
    request: Request,
    profile: str | None = None,
    host: str | None = None,
    agent: str | None = None,
    status: str | None = None,
    source: str | None = None,
    sessionId: str | None = None,
    q: str | None = None,
    filter: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    cursor: str | None = None,
) -> dict[str, Any]:
    predicate = None
    if filter:
        try:
            predicate = compile_filter(filter)
        except FlowFilterError as exc:
            raise BadRequest(str(exc), param="filter") from None
    page = runtime_of(request).ring.query(
        RingFilter(profile, host, agent, status, source, sessionId, q, predicate), limit, offset, cursor
    )
    return {"requests": [row.to_dict() for row in page.items], "total": page.total, "nextCursor": page.next_cursor}


@router.get("/requests/{request_id}")
async def get_request(request: Request, request_id: str) -> dict[str, Any]:
    row = runtime_of(request).ring.get(request_id)
    if row is None:
        raise RequestNotFound(f"captured request {request_id!r} not found (it may have left the ring)")
    return row.to_dict(internal=True)
