"""usage rollups: failed calls counted per hour, status and message; the hourly sums and
latency counts summed per day. Kept by the usage writer, so the Usage page's most frequent
errors read counts, not every failed row of a month, and a month's charts read days, not hours

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:30:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

KEYS = ("hour", "status", "digest")
GROUPS = ("model", "provider", "agent", "api_key")
MEASURES = ("requests", "errors", "tokens_in", "tokens_out", "tokens_cached", "cost_units", "unpriced")
BATCH = 20_000
# The session runs in UTC (omniroute.db.database), so days are UTC days; on SQLite, as
# SQLAlchemy stores a datetime: "YYYY-MM-DD HH:MM:SS.ffffff".
_DAY = {"postgresql": "date_trunc('day', hour)", "sqlite": "strftime('%Y-%m-%d 00:00:00.000000', hour)"}
_PER_DAY = "INSERT INTO {to} (day, {columns}) SELECT {day} AS d, {groups}, {sums} FROM {source} GROUP BY d, {groups}"


def upgrade() -> None:
    op.create_table(
        "usage_errors",
        sa.Column("hour", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("last", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(*KEYS),
    )
    _count_errors()
    _create_daily("usage_daily", "usage_hourly", MEASURES, ())
    _create_daily("usage_latency_daily", "usage_latency", ("calls",), ("bucket",))


def _create_daily(name: str, source: str, measures: tuple[str, ...], keys: tuple[str, ...]) -> None:
    """``name`` keyed by day (and ``keys``), filled with the hourly ``source``'s sums."""
    op.create_table(
        name,
        sa.Column("day", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        *(sa.Column(group, sqlmodel.sql.sqltypes.AutoString(), nullable=False) for group in GROUPS),
        *(sa.Column(key, sa.Integer(), nullable=False) for key in keys),
        *(sa.Column(measure, sa.BigInteger(), nullable=False) for measure in measures),
        sa.PrimaryKeyConstraint("day", *GROUPS, *keys),
    )
    groups = ", ".join((*GROUPS, *keys))
    op.execute(_PER_DAY.format(
        to=name, columns=", ".join((*GROUPS, *keys, *measures)), day=_DAY[op.get_bind().dialect.name],
        groups=groups, sums=", ".join(f"SUM({m})" for m in measures), source=source))


def _count_errors() -> None:
    # The same keys the usage writer uses from now on (omniroute.engine.usage_sums).
    from omniroute.db.tables import error_digest

    bind = op.get_bind()
    logs = sa.table("usage_logs", sa.column("id"), sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime()),
                    sa.column("status"), sa.column("error"))
    failures: dict[tuple[Any, ...], list[Any]] = {}  # key: [error, calls, last]
    last_id = 0
    while rows := bind.execute(
        sa.select(logs.c.id, logs.c.created_at, logs.c.status, logs.c.error)
        .where(logs.c.status >= 400, logs.c.id > last_id).order_by(logs.c.id).limit(BATCH)
    ).all():
        for _, created_at, status, error in rows:
            key = (created_at.replace(minute=0, second=0, microsecond=0), status, error_digest(error))
            failure = failures.setdefault(key, [error, 0, created_at])
            failure[1] += 1
            failure[2] = max(failure[2], created_at)
        last_id = rows[-1][0]
    table = sa.table("usage_errors", sa.column("hour", sqlmodel.sql.sqltypes.UTCDateTime()), sa.column("status"),
                     sa.column("digest"), sa.column("error"), sa.column("calls"),
                     sa.column("last", sqlmodel.sql.sqltypes.UTCDateTime()))
    items = [(*key, *failure) for key, failure in failures.items()]
    names = (*KEYS, "error", "calls", "last")
    for start in range(0, len(items), BATCH):
        bind.execute(table.insert(), [dict(zip(names, item, strict=True)) for item in items[start:start + BATCH]])


def downgrade() -> None:
    op.drop_table("usage_latency_daily")
    op.drop_table("usage_daily")
    op.drop_table("usage_errors")
