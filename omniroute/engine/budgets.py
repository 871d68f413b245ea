"""Spending budgets per OmniRoute API key: a key whose daily, weekly or monthly spend has
reached its limit is refused until the period turns (429 in the caller's format).

Spend is the sum of the ``cost`` of the key's usage rows since the period began (UTC, at
``resetTime``), read from the database off the event loop and cached for a few seconds; calls
this instance finishes meanwhile are added to the cached sums at once, so one instance never
overspends by more than the call in flight, and several instances (one database) agree
within the cache's lifetime.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from omniroute.db.tables import UsageLog, units_cost
from omniroute.engine.errors import EngineError

PERIODS = ("daily", "weekly", "monthly")
CACHE_S = 5.0


class BudgetSpent(EngineError):
    status = 429
    type = "insufficient_quota"


@dataclass(frozen=True, slots=True)
class Budget:
    api_key_id: str
    limits: dict[str, Decimal]  # period -> USD; only the periods that are set (> 0)
    warning_threshold: float = 0.8
    reset_time: str = "00:00"  # HH:MM, UTC

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"apiKeyId": self.api_key_id}
        for period in PERIODS:
            value = self.limits.get(period)
            out[LIMIT_FIELDS[period]] = float(value) if value is not None else None
        out.update(warningThreshold=self.warning_threshold, resetTime=self.reset_time)
        return out


LIMIT_FIELDS = {"daily": "dailyLimitUsd", "weekly": "weeklyLimitUsd", "monthly": "monthlyLimitUsd"}


def period_start(period: str, now: datetime, reset_time: str = "00:00") -> datetime:
    """When the current ``period`` began (UTC): a day, a week from Monday, a month from the 1st,
    each at ``reset_time``."""
    hour, minute = (int(part) for part in reset_time.split(":"))
    day = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if day > now:
        day -= timedelta(days=1)
    if period == "daily":
        return day
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    month = day.replace(day=1)
    return month if month <= now else (month - timedelta(days=1)).replace(day=1)


def period_end(period: str, start: datetime) -> datetime:
    if period == "daily":
        return start + timedelta(days=1)
    if period == "weekly":
        return start + timedelta(days=7)
    return (start + timedelta(days=32)).replace(day=1)


def spend_since(session: Session, api_key_id: str, starts: dict[str, datetime]) -> dict[str, Decimal]:
    """The key's spend in each period, summed by the database as exact integer cost units."""
    out = {}
    for period, start in starts.items():
        total = session.exec(
            select(func.sum(UsageLog.cost_units))
            .where(UsageLog.api_key_id == api_key_id, UsageLog.created_at >= start)
        ).one()
        out[period] = units_cost(int(total or 0))
    return out


@dataclass(slots=True)
class _Spend:
    loaded: float
    starts: dict[str, datetime]
    sums: dict[str, Decimal] = field(default_factory=dict)


Loader = Callable[[str, dict[str, datetime]], Awaitable[dict[str, Decimal]]]


class Budgets:
    def __init__(self, load: Loader, clock: Callable[[], float] = time.time) -> None:
        self._load = load
        self._clock = clock
        self.budgets: dict[str, Budget] = {}
        self._spend: dict[str, _Spend] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def configure(self, budgets: dict[str, Budget]) -> None:
        self.budgets = budgets
        self._spend.clear()

    async def spent(self, budget: Budget) -> dict[str, Decimal]:
        now = datetime.fromtimestamp(self._clock(), UTC)
        starts = {p: period_start(p, now, budget.reset_time) for p in budget.limits}
        cached = self._spend.get(budget.api_key_id)
        if cached is not None and cached.starts == starts and self._clock() - cached.loaded < CACHE_S:
            return cached.sums
        lock = self._locks.setdefault(budget.api_key_id, asyncio.Lock())
        async with lock:  # one query per key however many calls wait for it
            cached = self._spend.get(budget.api_key_id)
            if cached is None or cached.starts != starts or self._clock() - cached.loaded >= CACHE_S:
                loaded = self._clock()
                sums = await self._load(budget.api_key_id, starts)
                cached = self._spend[budget.api_key_id] = _Spend(loaded, starts, dict(sums))
        return cached.sums

    async def admit(self, api_key_id: str | None) -> None:
        budget = self.budgets.get(api_key_id or "")
        if budget is None:
            return
        sums = await self.spent(budget)
        for period, limit in budget.limits.items():
            used = sums.get(period, Decimal(0))
            if used >= limit:
                end = period_end(period, period_start(period, datetime.fromtimestamp(self._clock(), UTC),
                                                      budget.reset_time))
                wait = max(1, math.ceil(end.timestamp() - self._clock()))
                raise BudgetSpent(
                    f"the {period} budget of API key {budget.api_key_id!r} is spent "
                    f"(${used:.4f} of ${limit:.2f}); it resets in {wait} s "
                    "(budgets: GET /api/usage/budget)",
                    headers={"retry-after": str(wait)},
                )

    def add(self, api_key_id: str | None, cost: Decimal) -> None:
        """A call of this instance finished: its cost counts at once."""
        cached = self._spend.get(api_key_id or "")
        if cached is not None and cost:
            for period in cached.sums:
                cached.sums[period] += cost

    async def status(self) -> list[dict[str, Any]]:
        out = []
        for budget in self.budgets.values():
            sums = await self.spent(budget)
            entry = budget.to_api()
            periods = {}
            for period, limit in budget.limits.items():
                used = sums.get(period, Decimal(0))
                ratio = float(used / limit) if limit else 0.0
                periods[period] = {"limitUsd": float(limit), "spentUsd": float(used),
                                   "remainingUsd": float(max(Decimal(0), limit - used)),
                                   "percentUsed": round(ratio * 100, 2),
                                   "warning": ratio >= budget.warning_threshold, "exceeded": used >= limit}
            entry["periods"] = periods
            entry["exceeded"] = any(p["exceeded"] for p in periods.values())
            out.append(entry)
        return out
