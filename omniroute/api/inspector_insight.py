"""Traffic Inspector insight: conversations, cost totals, and whether `/v1` calls are captured.

- `GET conversations`: the model calls of the ring (or of a recording session, `sessionId`)
  grouped by agent session (`inspector/threads.py`), newest first, each with its calls, tokens,
  cost, duration, models and errors.
- `GET conversations/{key}`: one thread and its timeline (open a call for its turns).
- `GET insight/totals`: calls, tokens and cost of the ring or of a recording session.
- `GET|POST capture-modes/api-calls`: whether calls made straight to `/v1` get inspector rows
  (source `api`); the start value is the setting `inspector_api_calls` (on by default).

Each row's insight (`inspector/insight.py`) is also part of the list and detail answers of
`api/inspector.py` (`row_insight`, which keeps finished rows' insight).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from omniroute.api.deps import CaptureDep, RingDep, RouterDep, SessionsDep, StoreDep
from omniroute.api.guards import loopback_only
from omniroute.api.inspector import PREFIX, RequestNotFound, row_insight
from omniroute.engine.pricing import PriceTable
from omniroute.inspector.model import InterceptedRequest
from omniroute.inspector.threads import Insighted, group, newest_first

router = APIRouter(prefix=PREFIX, tags=["Traffic Inspector"], dependencies=[Depends(loopback_only)])

MAX_CONVERSATIONS = 200


class Toggle(BaseModel):
    enabled: bool


async def _rows(ring: RingDep, store: StoreDep, sessions: SessionsDep,
                session_id: str | None) -> list[InterceptedRequest]:
    if session_id:
        return list(await store.call(sessions.rows, session_id))
    return list(ring)


def _insighted(rows: list[InterceptedRequest], prices: PriceTable) -> list[Insighted]:
    return [(row, row_insight(row, prices)) for row in rows]


@router.get("/conversations")
async def conversations(ring: RingDep, store: StoreDep, sessions: SessionsDep, router: RouterDep,
                        sessionId: str | None = None) -> dict[str, Any]:
    threads = newest_first(group(_insighted(await _rows(ring, store, sessions, sessionId), router.prices)))
    return {"conversations": [t.summary() for t in threads[:MAX_CONVERSATIONS]], "total": len(threads)}


@router.get("/conversations/{key:path}")
async def conversation(key: str, ring: RingDep, store: StoreDep, sessions: SessionsDep, router: RouterDep,
                       sessionId: str | None = None) -> dict[str, Any]:
    thread = group(_insighted(await _rows(ring, store, sessions, sessionId), router.prices)).get(key)
    if thread is None:
        raise RequestNotFound(f"conversation {key!r} not found (its calls may have left the ring)")
    return {"summary": thread.summary(), "calls": thread.timeline()}


@router.get("/insight/totals")
async def totals(ring: RingDep, store: StoreDep, sessions: SessionsDep, router: RouterDep,
                 sessionId: str | None = None) -> dict[str, Any]:
    """Calls, model calls, tokens and cost (of the priced calls; `unpricedCalls` had tokens
    but no known price, so `cost` is None when nothing was priced)."""
    cost, priced, unpriced, tokens_in, tokens_out, llm, errors = Decimal(0), 0, 0, 0, 0, 0, 0
    rows = await _rows(ring, store, sessions, sessionId)
    for _row, info in _insighted(rows, router.prices):
        llm += _row.detected_kind == "llm"
        errors += info["failure"] is not None
        tokens_in += info["tokensIn"] or 0
        tokens_out += info["tokensOut"] or 0
        if info["cost"] is not None:
            cost += Decimal(info["cost"])
            priced += 1
        elif info["tokensIn"] is not None or info["tokensOut"] is not None:
            unpriced += 1
    return {"calls": len(rows), "modelCalls": llm, "errors": errors, "tokensIn": tokens_in,
            "tokensOut": tokens_out, "cost": None if unpriced and not priced else f"{cost:f}",
            "pricedCalls": priced, "unpricedCalls": unpriced, "sessionId": sessionId}


@router.get("/capture-modes/api-calls")
async def api_calls_state(capture: CaptureDep) -> dict[str, Any]:
    return {"apiCalls": {"enabled": capture.api_calls}}


@router.post("/capture-modes/api-calls")
async def api_calls_toggle(capture: CaptureDep, payload: Toggle) -> dict[str, Any]:
    """Ours: whether calls straight to `/v1` (no agent, no proxy) get inspector rows."""
    capture.api_calls = payload.enabled
    return {"apiCalls": {"enabled": capture.api_calls}}
