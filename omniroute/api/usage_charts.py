"""`GET /api/usage/charts`: the Usage page's charts, aggregated by the database in the Store's
reader process (`engine/usage_charts.py`): tokens, cost, requests and errors over time split by model, agent
or provider; latency percentiles; the most frequent errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter
from sqlmodel import Session

from omniroute.api.deps import StoreDep, UsageDep
from omniroute.api.usage import drain
from omniroute.engine import usage_charts

router = APIRouter(prefix="/api/usage", tags=["Usage"])

PERIODS = {"day": (timedelta(days=1), 3600), "week": (timedelta(days=7), 6 * 3600),
           "month": (timedelta(days=30), 86400)}  # (span, bucket seconds)


@router.get("/charts")
async def charts(store: StoreDep, usage: UsageDep, period: Literal["day", "week", "month"] = "day",
                 by: Literal["model", "agent", "provider"] = "model") -> dict[str, Any]:
    await drain(usage)  # a call that just ended is in the charts
    span, bucket_s = PERIODS[period]
    until = datetime.now(UTC)
    # Buckets start on whole multiples of the bucket since the epoch, as the SQL rounds them.
    since = datetime.fromtimestamp(int((until - span).timestamp()) // bucket_s * bucket_s, UTC)

    return {"period": period, "by": by, "since": since.isoformat(), "until": until.isoformat(),
            "bucketSeconds": bucket_s, **await store.read(read_charts, since, bucket_s, by)}


def read_charts(session: Session, since: datetime, bucket_s: int, by: str) -> dict[str, Any]:
    """The charts' data, read in the reader process."""
    return {
        "series": usage_charts.series(session, since, bucket_s, by),
        "latency": usage_charts.latency(session, since, by),
        "errors": usage_charts.errors(session, since),
    }
