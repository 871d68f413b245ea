"""Usage: `/api/usage/call-logs` (one row per request) and `/api/usage/analytics` (sums).

Rows are written off the request path by `UsageRecorder`; reads first wait for the batch in
progress (at most its 100 ms linger), so a call that just finished is already listed. Costs
are stored as decimal text and as integer 10^-12 units (`cost_units`), which the database sums
exactly; the analytics read hourly sums (`engine/usage_sums.py`). A call whose model has no known price has
a null cost, and the analytics count such calls apart (`unpricedCalls`) instead of adding $0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import Row, func, or_
from sqlmodel import Session, col, select

from omniroute.api.deps import StoreDep, UsageDep
from omniroute.api.management import invalid
from omniroute.db.store import Store
from omniroute.db.tables import ApiKey, UsageDaily, UsageLog, core_table, units_cost
from omniroute.engine.errors import NotFound
from omniroute.engine.usage import UsageRecorder
from omniroute.engine.usage_sums import Sum, period_sums

router = APIRouter(prefix="/api/usage", tags=["Usage"])

PERIODS = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}
# The rows queued before a read are one batch write away; under steady traffic the wait ends
# with that batch, not when the queue is empty.
WRITTEN_WAIT_S = 3.0
# Read with Core, not the ORM: a page of rows becomes JSON, no identity map or instance per
# row is needed; the fixed statements are built once.
_LOGS = core_table(UsageLog)
LogRow = UsageLog | Row[Any]  # a row by id (`Session.get`) or a row of a page
_DAILY = core_table(UsageDaily)
_KEYS = core_table(ApiKey)
_ALL_REQUESTS = select(func.coalesce(func.sum(_DAILY.c.requests), 0))
_KEY_LABELS = select(_KEYS.c.id, _KEYS.c.label)


async def drain(usage: UsageRecorder) -> None:
    """Let a read see the calls answered before it. Bounded: with the database away the
    dashboard shows what is written instead of hanging."""
    await usage.written(WRITTEN_WAIT_S)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def _decimal_text(value: Decimal) -> str:
    return f"{value:f}"  # never scientific notation ("1E-7")


def log_json(row: LogRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "requestId": row.request_id,
        "createdAt": _iso(row.created_at),
        "agent": row.agent,
        "source": row.source,
        "clientFormat": row.client_format,
        "modelRequested": row.model_requested,
        "modelUsed": row.model_used,
        "provider": row.provider,
        "connectionId": row.connection_id,
        "apiKeyId": row.api_key_id,
        "tokensIn": row.tokens_in,
        "tokensOut": row.tokens_out,
        "tokensCached": row.tokens_cached,
        "cost": row.cost,
        "latencyMs": row.latency_ms,
        "upstreamLatencyMs": row.upstream_latency_ms,
        "fallbackAttempts": row.fallback_attempts,
        "status": row.status,
        "error": row.error,
    }


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which usage rows a log view lists, as plain values: the reader process builds the SQL
    (`where`). ``of`` checks them first, on the request."""

    model: str | None = None
    provider: str | None = None
    agent: str | None = None
    status: str | None = None
    source: str | None = None
    api_key_id: str | None = None
    request_id: str | None = None
    sources: tuple[str, ...] = ()  # any of these sources (empty: any source)

    @classmethod
    def of(cls, **values: Any) -> LogFilter:
        status = values.get("status")
        if status and status not in ("ok", "error") and not status.isdigit():
            raise invalid("status", "use an HTTP status (e.g. 429), 'ok' (< 400) or 'error' (>= 400)")
        return cls(**values)

    def where(self) -> list[Any]:
        where: list[Any] = []
        if self.model:
            where.append(or_(col(UsageLog.model_requested) == self.model, col(UsageLog.model_used) == self.model))
        for column, value in ((UsageLog.provider, self.provider), (UsageLog.agent, self.agent),
                              (UsageLog.source, self.source), (UsageLog.api_key_id, self.api_key_id),
                              (UsageLog.request_id, self.request_id)):
            if value:
                where.append(col(column) == value)
        if self.sources:
            where.append(col(UsageLog.source).in_(self.sources))
        if self.status == "ok":
            where.append(col(UsageLog.status) < 400)
        elif self.status == "error":
            where.append(col(UsageLog.status) >= 400)
        elif self.status:
            where.append(col(UsageLog.status) == int(self.status))
        return where


def log_count(session: Session, where: list[Any]) -> int:
    """How many usage rows match. Unfiltered, it is the daily sums' request count, which the
    usage writer keeps in the rows' own transaction: the same number without counting a
    million rows (on PostgreSQL that is a full scan of the table on every page load)."""
    if not where:
        return int(session.execute(_ALL_REQUESTS).scalar_one())
    return int(session.exec(select(func.count()).select_from(UsageLog).where(*where)).one())


def log_page(session: Session, chosen: LogFilter, limit: int, offset: int, key: str = "items") -> dict[str, Any]:
    """One page of usage rows as JSON (under ``key``), newest first, filtered and counted by
    the database, with the total, ``limit`` and ``offset``."""
    where = chosen.where()
    rows = session.execute(
        select(_LOGS).where(*where).order_by(_LOGS.c.created_at.desc(), _LOGS.c.id.desc()).offset(offset).limit(limit)
    ).all()
    return {key: [log_json(row) for row in rows], "total": log_count(session, where), "limit": limit, "offset": offset}


async def read_response[*Ts](store: Store, work: Callable[[Session, *Ts], dict[str, Any]], *args: *Ts) -> Response:
    """The JSON object ``work`` returns, built and encoded in the Store's reader process: the
    loop that carries the agents' calls only sends the bytes. (The routes that use it declare
    ``response_model=dict[str, Any]``, so their documented response stays what it was.)"""
    return Response(await store.read_json(work, *args), media_type="application/json")


@router.get("/call-logs", response_model=dict[str, Any])
async def call_logs(
    store: StoreDep,
    usage: UsageDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,  # SQLite integers are 64-bit
    model: str | None = None,
    provider: str | None = None,
    agent: str | None = None,
    status: str | None = None,
    source: str | None = None,
    apiKeyId: str | None = None,
) -> Response:
    chosen = LogFilter.of(model=model, provider=provider, agent=agent, status=status, source=source,
                          api_key_id=apiKeyId)
    await drain(usage)
    return await read_response(store, log_page, chosen, limit, offset)


@router.get("/call-logs/{log_id}")
async def call_log(store: StoreDep, usage: UsageDep, log_id: str) -> dict[str, Any]:
    """By row id, or by the request id a response carried in `X-OmniRoute-Request-Id`."""
    await drain(usage)
    # ASCII digits only ("²".isdigit()), and within SQLite's 64-bit integers.
    by_id = log_id.isascii() and log_id.isdigit() and len(log_id) <= 18

    def find(session: Session) -> UsageLog | None:
        row = session.get(UsageLog, int(log_id)) if by_id else None
        if row is None:
            row = session.exec(select(UsageLog).where(UsageLog.request_id == log_id)).first()
        return row

    row = await store.run(find)
    if row is None:
        raise NotFound(f"call log {log_id!r} not found")
    return log_json(row)


def _sum_json(bucket: Sum) -> dict[str, Any]:
    """A group's sums. ``cost`` is the priced calls' sum, and null when every call of the group
    is unpriced: their cost is unknown, not $0. ``unpricedCalls`` says how many calls the sum
    leaves out, so "$x" can read "$x (+N unpriced)"."""
    all_unpriced = bucket.unpriced > 0 and bucket.unpriced >= bucket.requests
    return {
        "requests": bucket.requests,
        "errors": bucket.errors,
        "tokensIn": bucket.tokens_in,
        "tokensOut": bucket.tokens_out,
        "tokensCached": bucket.tokens_cached,
        "cost": None if all_unpriced else _decimal_text(units_cost(bucket.cost_units)),
        "unpricedCalls": bucket.unpriced,
    }


def _analytics(session: Session, period: str, since: datetime, until: datetime) -> dict[str, Any]:
    total, sums = period_sums(session, since, until)
    labels = dict(session.execute(_KEY_LABELS).all())
    result: dict[str, Any] = {
        name: {key: _sum_json(bucket) for key, bucket in sorted(group.items())}
        for name, group in sums.items()
    }
    for key_id, bucket in result["byApiKey"].items():
        bucket["label"] = labels.get(key_id)  # None: no key, or the key was deleted since
    return {"period": period, "since": since.isoformat(), "until": until.isoformat(), "totals": _sum_json(total),
            **result}


@router.get("/analytics", response_model=dict[str, Any])
async def analytics(
    store: StoreDep, usage: UsageDep, period: Literal["day", "week", "month"] = "day"
) -> Response:
    await drain(usage)
    until = datetime.now(UTC)
    # Summed by the database, merged in the reader process: the loop waits for a few hundred groups.
    return await read_response(store, _analytics, period, until - PERIODS[period], until)
