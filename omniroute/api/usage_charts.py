"""`GET /api/usage/charts`: the Usage page's charts, aggregated by the database in the Store's
reader process (`engine/usage_charts.py`): tokens, cost, requests and errors over time split by model, agent
or provider; latency percentiles; the most frequent errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from sqlmodel import Session

from omniroute.api.deps import StoreDep, UsageDep
from omniroute.api.usage import drain, read_response
from omniroute.engine import usage_charts

router = APIRouter(prefix="/api/usage", tags=["Usage"])

PERIODS = {"day": (timedelta(days=1), 3600), "week": (timedelta(days=7), 6 * 3600),
           "month": (timedelta(days=30), 86400)}  # (span, bucket seconds)


@router.get("/charts", response_model=dict[str, Any])
async def charts(store: StoreDep, usage: UsageDep, period: Literal["day", "week", "month"] = "day",
                 by: Literal["model", "agent", "provider"] = "model") -> Response:
    await drain(usage)  # a call that just ended is in the charts
    span, bucket_s = PERIODS[period]
    until = datetime.now(UTC)
    # Buckets start on whole multiples of the bucket since the epoch, as the SQL rounds them.
    since = datetime.fromtimestamp(int((until - span).timestamp()) // bucket_s * bucket_s, UTC)
    return await read_response(store, read_charts, period, by, since, until, bucket_s)


def read_charts(session: Session, period: str, by: str, since: datetime, until: datetime,
                bucket_s: int) -> dict[str, Any]:
    """The charts, read and built in the reader process."""
    return {
        "period": period, "by": by, "since": since.isoformat(), "until": until.isoformat(), "bucketSeconds": bucket_s,
        "series": usage_charts.series(session, since, bucket_s, by),
        "latency": usage_charts.latency(session, since, by),
        "errors": usage_charts.errors(session, since),
    }
