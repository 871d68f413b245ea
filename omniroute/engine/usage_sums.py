"""The Usage page's sums: per model, provider, agent, API key and day, over a period.

Summing every row of a month on each page load would move a month of rows through the
database for every refresh. The usage writer therefore keeps `usage_hourly` (one row per hour
and group) and `usage_daily` (one per UTC day and group) in the same transaction as the rows it
writes, and a period is read as the whole days inside it from `usage_daily`, its other whole
hours from `usage_hourly`, and the two partial hours at its edges from `usage_logs`. Each part
is summed by the database (costs as integer units, so exactly); Python only merges the few
hundred group rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from operator import add
from typing import Any

from sqlalchemy import Table, bindparam, case, func, or_, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from omniroute.db.latency_buckets import bucket_of
from omniroute.db.tables import (
    UsageDaily,
    UsageErrors,
    UsageHourly,
    UsageLatency,
    UsageLatencyDaily,
    UsageLog,
    core_table,
    error_digest,
    row_group,
)

GROUPS = ("byModel", "byProvider", "byAgent", "byApiKey", "byDay")
MEASURES = ("requests", "errors", "tokens_in", "tokens_out", "tokens_cached", "cost_units")
# The summed counters of the hour and day tables: the measures, then the calls with no known
# price (cost NULL), which the page shows as "unknown" rather than as $0 (0008).
SUMS = (*MEASURES, "unpriced")
KEY_COLUMNS = ("hour", "model", "provider", "agent", "api_key")
DAY_KEY_COLUMNS = ("day", *KEY_COLUMNS[1:])
_HOURLY = core_table(UsageHourly)
_LATENCY = core_table(UsageLatency)
_DAILY = core_table(UsageDaily)
_LATENCY_DAILY = core_table(UsageLatencyDaily)
_ERRORS = core_table(UsageErrors)
ERROR_KEYS = ("hour", "status", "digest")


@dataclass(slots=True)
class Sum:
    """The counters of one group, in SUMS order; ``add`` takes the measures in MEASURES order
    and the unpriced calls by name (rows that all have a price leave it out)."""

    requests: int = 0
    errors: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0
    cost_units: int = 0
    unpriced: int = 0  # calls whose model has no known price: not in cost_units

    def add(self, *measures: int, unpriced: int = 0) -> None:
        for name, value in zip(MEASURES, measures, strict=True):
            setattr(self, name, getattr(self, name) + value)
        self.unpriced += unpriced


def add_to_hours(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Add a batch of usage rows to the sums and counts per hour (`usage_hourly`,
    `usage_latency`, `usage_errors`) and per day (`usage_daily`, `usage_latency_daily`);
    called in the writer's transaction."""
    hours: dict[tuple[Any, ...], list[int]] = {}
    latency: dict[tuple[Any, ...], list[int]] = {}
    failures: dict[tuple[Any, ...], list[Any]] = {}  # (hour, status, digest): [error, calls, last]
    for row in rows:
        hour = row["created_at"].replace(minute=0, second=0, microsecond=0)
        key = (hour, *row_group(row))
        status = row["status"]
        _add(hours, key, (1, int(status >= 400), row["tokens_in"], row["tokens_out"], row["tokens_cached"],
                          row["cost_units"], int(row["cost"] is None)))
        if status < 400:  # percentiles are of answered calls
            _add(latency, (*key, bucket_of(row["latency_ms"])), (1,))
        else:
            failure = failures.setdefault((hour, status, error_digest(row["error"])),
                                          [row["error"], 0, row["created_at"]])
            failure[1] += 1
            failure[2] = max(failure[2], row["created_at"])
    if not hours:
        return
    _upsert(session, _HOURLY, KEY_COLUMNS, _rows(hours), added=SUMS)
    _upsert(session, _DAILY, DAY_KEY_COLUMNS, _rows(_per_day(hours)), added=SUMS)
    _upsert(session, _LATENCY, (*KEY_COLUMNS, "bucket"), _rows(latency), added=("calls",))
    _upsert(session, _LATENCY_DAILY, (*DAY_KEY_COLUMNS, "bucket"), _rows(_per_day(latency)), added=("calls",))
    _upsert(session, _ERRORS, ERROR_KEYS, _rows(failures), kept=("error",), added=("calls",), latest=("last",))


def _add(counts: dict[tuple[Any, ...], list[int]], key: tuple[Any, ...], values: Sequence[int]) -> None:
    total = counts.setdefault(key, [0] * len(values))
    for i, value in enumerate(values):
        total[i] += value


def _per_day(counts: dict[tuple[Any, ...], list[int]]) -> dict[tuple[Any, ...], list[int]]:
    """Counts keyed by hour (first) summed per day."""
    days: dict[tuple[Any, ...], list[int]] = {}
    for (hour, *rest), values in counts.items():
        _add(days, (hour.replace(hour=0), *rest), values)
    return days


def _rows(counts: dict[tuple[Any, ...], list[Any]]) -> list[tuple[Any, ...]]:
    return [(*key, *values) for key, values in counts.items()]


def _upsert(session: Session, table: Table, keys: tuple[str, ...], rows: list[tuple[Any, ...]], *,
            added: tuple[str, ...], kept: tuple[str, ...] = (), latest: tuple[str, ...] = ()) -> None:
    """Merge ``rows`` (key values, then the ``kept``, ``added`` and ``latest`` columns) into
    ``table``: a new key is inserted; an existing one keeps its ``kept`` values, adds to its
    ``added`` counters and keeps the greater of each ``latest`` value."""
    if not rows:
        return
    upsert = _upsert_statement(session.get_bind().dialect.name, table, keys, added, latest)
    names = (*keys, *kept, *added, *latest)
    # Sorted: several instances upserting the same hours take their row locks in one order.
    session.execute(upsert, [dict(zip(names, row, strict=True)) for row in sorted(rows, key=lambda r: r[:len(keys)])])


@cache
def _upsert_statement(dialect: str, table: Table, keys: tuple[str, ...], added: tuple[str, ...],
                      latest: tuple[str, ...]) -> Any:
    """Built once per table: building it and its cache key for every batch cost more than the
    writer's own work."""
    if dialect == "postgresql":  # its dialect module is loaded only for PostgreSQL
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        insert = postgresql_insert(table)
    else:
        insert = sqlite_insert(table)
    greatest = func.greatest if dialect == "postgresql" else func.max  # SQLite's max(a, b) is scalar
    set_ = {name: table.c[name] + insert.excluded[name] for name in added}
    set_.update({name: greatest(table.c[name], insert.excluded[name]) for name in latest})
    return insert.on_conflict_do_update(index_elements=list(keys), set_=set_)


def _named(column: Any, fallback: Any) -> Any:
    """SQL for Python's ``column or fallback``: NULL and the empty string both fall back."""
    return func.coalesce(func.nullif(column, ""), fallback)


_LOGS = core_table(UsageLog)
_LOG_GROUPS = (
    _named(_LOGS.c.model_used, _LOGS.c.model_requested),
    _named(_LOGS.c.provider, "none"),
    _named(_LOGS.c.agent, _LOGS.c.source),
    _named(_LOGS.c.api_key_id, "none"),
    func.date(_LOGS.c.created_at),
)
_LOG_MEASURES = (
    func.count(),
    func.sum(case((_LOGS.c.status >= 400, 1), else_=0)),
    *(func.sum(_LOGS.c[name]) for name in MEASURES[2:]),
    func.sum(case((_LOGS.c.cost.is_(None), 1), else_=0)),  # unpriced, as the writer counts them
)


def _table_sums(table: Table, start: str) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The groups and measures of `usage_hourly` or `usage_daily` (``start``: its time column)."""
    groups = (*(table.c[name] for name in KEY_COLUMNS[1:]), func.date(table.c[start]))
    return groups, tuple(func.sum(table.c[name]) for name in SUMS)


_HOUR_GROUPS, _HOUR_MEASURES = _table_sums(_HOURLY, "hour")
_DAY_GROUPS, _DAY_MEASURES = _table_sums(_DAILY, "day")
# Built once, run with the period's bounds: building a select and its cache key on every page
# load costs more than running it. Core tables, not ORM entities: the page needs tuples.
_SINCE, _FIRST, _LAST = bindparam("since"), bindparam("first"), bindparam("last")
_FIRST_DAY, _LAST_DAY = bindparam("first_day"), bindparam("last_day")
_EDGES = (
    select(*_LOG_GROUPS, *_LOG_MEASURES)
    .where(or_((_LOGS.c.created_at >= _SINCE) & (_LOGS.c.created_at < _FIRST), _LOGS.c.created_at >= _LAST))
    .group_by(*_LOG_GROUPS)
)
_HOURS = (
    select(*_HOUR_GROUPS, *_HOUR_MEASURES)
    .where(or_((_HOURLY.c.hour >= _FIRST) & (_HOURLY.c.hour < _FIRST_DAY),
               (_HOURLY.c.hour >= _LAST_DAY) & (_HOURLY.c.hour < _LAST)))
    .group_by(*_HOUR_GROUPS)
)
_DAYS = (
    select(*_DAY_GROUPS, *_DAY_MEASURES)
    .where(_DAILY.c.day >= _FIRST_DAY, _DAILY.c.day < _LAST_DAY)
    .group_by(*_DAY_GROUPS)
)


def _next_hour(moment: datetime) -> datetime:
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(hours=1)


def _next_day(moment: datetime) -> datetime:
    floor = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(days=1)


def period_sums(session: Session, since: datetime, until: datetime) -> tuple[Sum, dict[str, dict[str, Sum]]]:
    """The totals and the per-group sums of the rows written since ``since``: whole days from
    `usage_daily`, the other whole hours up to ``until``'s hour from `usage_hourly`, the edges
    (and anything newer) from the rows."""
    first = _next_hour(since)
    last = until.replace(minute=0, second=0, microsecond=0)
    if first > last:  # a period shorter than an hour: only rows
        first = last = since
    first_day = _next_day(first)
    last_day = last.replace(hour=0, minute=0, second=0, microsecond=0)
    if first_day >= last_day:  # no whole day: only hours
        first_day = last_day = last
    bounds = {"since": since, "first": first, "last": last, "first_day": first_day, "last_day": last_day}
    parts: Iterable[Any] = (
        session.execute(_EDGES, bounds).all(),
        session.execute(_HOURS, bounds).all(),
        session.execute(_DAYS, bounds).all() if first_day < last_day else (),
    )
    # Lists summed with map: a Sum's setattr per measure and group costs more than the queries.
    total = [0] * len(SUMS)
    sums: dict[str, dict[str, list[int]]] = {name: {} for name in GROUPS}
    width = len(GROUPS)
    for rows in parts:
        for row in rows:
            measures = [int(value or 0) for value in row[width:]]
            total = list(map(add, total, measures))
            for name, key in zip(GROUPS, row[:width], strict=True):
                group = sums[name]
                text = str(key)  # PostgreSQL's date() is a date, SQLite's text
                seen = group.get(text)
                group[text] = measures if seen is None else list(map(add, seen, measures))
    return Sum(*total), {name: {key: Sum(*values) for key, values in group.items()} for name, group in sums.items()}
