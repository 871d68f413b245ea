"""More views of the usage rows: `/api/usage/history` (per day), `logs`, `request-logs`,
`proxy-logs` (pages) and `/api/usage/{connectionId}` (one connection's totals).

Each is filtered, paged, counted and summed by the database (`Store.run`; the pages in the
reader process, `Store.read`), never by loading the rows here. `connection_router` holds the
`{connectionId}` route: the app includes it after every other `/api/usage/...` route, which it
would otherwise shadow.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import case, func
from sqlmodel import Session, col, select

from omniroute.api.deps import StoreDep, UsageDep
from omniroute.api.usage import LogFilter, drain, log_page, read_response
from omniroute.db.tables import ProviderConnection, UsageLog, units_cost
from omniroute.engine.errors import NotFound

router = APIRouter(prefix="/api/usage", tags=["Usage"])
connection_router = APIRouter(prefix="/api/usage", tags=["Usage"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=2**62)]  # SQLite integers are 64-bit
Days = Annotated[int, Query(ge=1, le=366)]
PROXIED = ("agent-bridge", "direct")  # calls that came through the proxy, or from an agent's own settings


def _since(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


@router.get("/history")
async def history(store: StoreDep, usage: UsageDep, days: Days = 30, model: str | None = None,
                  provider: str | None = None) -> dict[str, Any]:
    """Requests, errors, tokens and cost per day (UTC) over the last ``days``."""
    await drain(usage)
    since = _since(days)
    where = [*LogFilter(model=model, provider=provider).where(), col(UsageLog.created_at) >= since]
    day = func.date(UsageLog.created_at)

    def per_day(session: Session) -> list[Any]:
        return list(session.exec(
            select(day, func.count(), func.sum(case((col(UsageLog.status) >= 400, 1), else_=0)),
                   func.sum(UsageLog.tokens_in), func.sum(UsageLog.tokens_out), func.sum(UsageLog.cost_units))
            .where(*where).group_by(day).order_by(day)
        ).all())

    rows = await store.run(per_day)
    return {"since": since.isoformat(), "days": [
        {"date": str(d), "requests": n, "errors": int(e or 0), "tokensIn": int(i or 0), "tokensOut": int(o or 0),
         "cost": f"{units_cost(int(c or 0)):f}"}
        for d, n, e, i, o, c in rows]}


@router.get("/logs", response_model=dict[str, Any])
async def logs(store: StoreDep, usage: UsageDep, limit: Limit = 50, offset: Offset = 0, model: str | None = None,
               provider: str | None = None, agent: str | None = None, status: str | None = None,
               source: str | None = None, apiKeyId: str | None = None) -> Response:
    chosen = LogFilter.of(model=model, provider=provider, agent=agent, status=status, source=source,
                          api_key_id=apiKeyId)
    await drain(usage)
    return await read_response(store, log_page, chosen, limit, offset, "logs")


def _request_page(session: Session, chosen: LogFilter, limit: int, offset: int) -> dict[str, Any]:
    page = log_page(session, chosen, limit, offset)
    page["requests"] = [
        {"requestId": r["requestId"], "createdAt": r["createdAt"], "model": r["modelRequested"],
         "clientFormat": r["clientFormat"], "status": r["status"], "latencyMs": r["latencyMs"], "error": r["error"]}
        for r in page.pop("items")]
    return page


@router.get("/request-logs", response_model=dict[str, Any])
async def request_logs(store: StoreDep, usage: UsageDep, limit: Limit = 50, offset: Offset = 0,
                       status: str | None = None, model: str | None = None,
                       requestId: str | None = None) -> Response:
    """The requests as a client saw them: id, model, status, latency, error."""
    chosen = LogFilter.of(model=model, status=status, request_id=requestId)
    await drain(usage)
    return await read_response(store, _request_page, chosen, limit, offset)


@router.get("/proxy-logs", response_model=dict[str, Any])
async def proxy_logs(store: StoreDep, usage: UsageDep, limit: Limit = 50, offset: Offset = 0,
                     agent: str | None = None, status: str | None = None) -> Response:
    """The calls agents made through the proxy (or straight to us from their own settings)."""
    chosen = LogFilter.of(agent=agent, status=status, sources=PROXIED)
    await drain(usage)
    return await read_response(store, log_page, chosen, limit, offset, "logs")


def _connection_totals(session: Session, connection_id: str, since: datetime) -> dict[str, Any]:
    where = [col(UsageLog.connection_id) == connection_id, col(UsageLog.created_at) >= since]
    count, errors, tokens_in, tokens_out, cached, latency, units = session.exec(
        select(func.count(), func.sum(case((col(UsageLog.status) >= 400, 1), else_=0)),
               func.sum(UsageLog.tokens_in), func.sum(UsageLog.tokens_out), func.sum(UsageLog.tokens_cached),
               func.avg(UsageLog.latency_ms), func.sum(UsageLog.cost_units)).where(*where)
    ).one()
    return {"requests": count, "errors": int(errors or 0), "tokensIn": int(tokens_in or 0),
            "tokensOut": int(tokens_out or 0), "tokensCached": int(cached or 0),
            "avgLatencyMs": round(float(latency or 0), 1), "cost": f"{units_cost(int(units or 0)):f}"}


@connection_router.get("/{connectionId}")
async def connection_usage(store: StoreDep, usage: UsageDep, connectionId: str, days: Days = 30) -> dict[str, Any]:
    """By connection id or name."""
    await drain(usage)
    since = _since(days)

    def read(session: Session) -> tuple[ProviderConnection, dict[str, Any]]:
        row = session.get(ProviderConnection, connectionId) or session.exec(
            select(ProviderConnection).where(ProviderConnection.name == connectionId)).first()
        if row is None:
            raise NotFound(f"provider connection {connectionId!r} not found")
        return row, _connection_totals(session, row.id, since)

    row, totals = await store.run(read)
    return {"connectionId": row.id, "name": row.name, "provider": row.provider, "days": days,
            "since": since.isoformat(), **totals}
