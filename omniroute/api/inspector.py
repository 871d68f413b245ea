"""Traffic Inspector routes (`/api/tools/traffic-inspector/...`), loopback only.

This module: the captured requests (list with filters, detail with the conversation view,
clear, annotation). Siblings: `inspector_replay` (replay through the engine), `inspector_live`
(WebSocket, HAR export, ingest), `inspector_sessions` (recording sessions), `inspector_capture`
(custom hosts, capture modes).

Deviation from the OmniRoute API specification, on purpose:
`GET requests` answers `{"requests": [...], "total",
"nextCursor"}` rather than a bare array, so a client can page through a 1000-row ring
(`limit`, `offset`, `cursor`); the UI and the foundation tests rely on that shape.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from omniroute.api.deps import RingDep, RouterDep, SessionsDep, StoreDep
from omniroute.api.fields import Storable
from omniroute.api.guards import loopback_only
from omniroute.engine.errors import BadRequest, EngineError
from omniroute.engine.pricing import PriceTable
from omniroute.inspector.conversation import conversation_view
from omniroute.inspector.flowfilter import FlowFilterError, compile_filter
from omniroute.inspector.insight import InsightCache
from omniroute.inspector.model import InterceptedRequest
from omniroute.inspector.ring import RingFilter

PREFIX = "/api/tools/traffic-inspector"
MAX_ANNOTATION = 10_000

router = APIRouter(prefix=PREFIX, tags=["Traffic Inspector"], dependencies=[Depends(loopback_only)])
# Finished rows' insight (cost, thread, failure: inspector/insight.py); one per process, as the ring is.
INSIGHTS = InsightCache()


def row_insight(row: InterceptedRequest, prices: PriceTable) -> dict[str, Any]:
    return INSIGHTS.get(row, prices)


class RequestNotFound(EngineError):
    status = 404


class AnnotationPut(BaseModel):
    # The limit is checked by hand: the specification wants 400 beyond 10000 characters, not 422.
    annotation: Annotated[str, Storable] | None


def ring_filter(
    profile: str | None = None,
    host: str | None = None,
    agent: str | None = None,
    status: str | None = None,
    source: str | None = None,
    sessionId: str | None = None,
    q: str | None = None,
    filter: str | None = Query(None, description="mitmproxy flow-filter expression, e.g. `~d api.openai.com & ~c 429`"),
) -> RingFilter:
    """The filters shared by `requests` and `export.har` (a FastAPI dependency)."""
    predicate = None
    if filter:
        try:
            predicate = compile_filter(filter)
        except FlowFilterError as exc:
            raise BadRequest(str(exc), param="filter") from None
    if profile == "all":
        profile = None
    return RingFilter(profile, host, agent, status, source, sessionId, q, predicate)


@router.get("/requests")
async def list_requests(
    ring: RingDep,
    router: RouterDep,
    filt: Annotated[RingFilter, Depends(ring_filter)],
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    cursor: str | None = None,
) -> dict[str, Any]:
    page = ring.query(filt, limit, offset, cursor)
    rows = [{**row.to_dict(), "insight": row_insight(row, router.prices)} for row in page.items]
    return {"requests": rows, "total": page.total, "nextCursor": page.next_cursor}


@router.delete("/requests", status_code=204)
async def clear_requests(ring: RingDep) -> Response:
    """Clear the in-memory buffer (recorded session rows stay in the database)."""
    ring.clear()
    return Response(status_code=204)


async def find_row(request_id: str, ring: RingDep, store: StoreDep, sessions: SessionsDep) -> InterceptedRequest:
    """From the ring, else from a recording session in the database (a route dependency)."""
    row = ring.get(request_id)
    if row is None:
        row = await store.call(sessions.stored_row, request_id)
    if row is None:
        raise RequestNotFound(f"captured request {request_id!r} not found (it may have left the ring)")
    return row


def _parsed(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def conversation_of(row: InterceptedRequest) -> dict[str, Any] | None:
    """The normalized conversation (system, messages, tool calls, usage) of a model call."""
    if not row.wire_format or row.request_body_encoding != "text":
        return None
    body = _parsed(row.request_body)
    if not isinstance(body, dict):
        return None
    if row.merged is not None:
        response = row.merged.get("message")
    else:
        response = _parsed(row.response_body) if row.response_body_encoding == "text" else None
    try:
        return conversation_view(body, response, row.wire_format)
    except (AttributeError, KeyError, TypeError, ValueError):  # an odd shape must not break the view
        return None


@router.get("/requests/{request_id}")
async def get_request(row: Annotated[InterceptedRequest, Depends(find_row)], router: RouterDep) -> dict[str, Any]:
    return {**row.to_dict(internal=True), "conversation": conversation_of(row), "insight": row_insight(row, router.prices)}


@router.put("/requests/{request_id}/annotation")
async def put_annotation(
    ring: RingDep, store: StoreDep, sessions: SessionsDep, request_id: str, payload: AnnotationPut
) -> dict[str, Any]:
    text = payload.annotation or None
    if text is not None and len(text) > MAX_ANNOTATION:
        raise BadRequest(f"annotation is {len(text)} characters; the limit is {MAX_ANNOTATION}", param="annotation")
    row = ring.get(request_id)
    if row is not None:
        ring.update(row, annotation=text)  # live viewers get an update event
    stored = await store.call(sessions.annotate, request_id, text)
    if row is None and not stored:
        raise RequestNotFound(f"captured request {request_id!r} not found (it may have left the ring)")
    return {"id": request_id, "annotation": text}
