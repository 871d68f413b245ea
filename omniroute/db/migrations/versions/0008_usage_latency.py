"""usage latency: answered calls counted per hour, group and latency bucket; unpriced calls
counted per hour, so the Usage page's charts read hours, not rows

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 21:10:00
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

KEYS = ("hour", "model", "provider", "agent", "api_key")
BATCH = 20_000


def upgrade() -> None:
    with op.batch_alter_table("usage_hourly", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unpriced", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_table(
        "usage_latency",
        *(sa.Column(name, sqlmodel.sql.sqltypes.UTCDateTime() if name == "hour"
                    else sqlmodel.sql.sqltypes.AutoString(), nullable=False) for name in KEYS),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*KEYS, "bucket"),
    )
    # The Usage page's "most frequent errors": failed calls are few, found by status first.
    op.create_index("ix_usage_logs_status_created_at", "usage_logs", ["status", "created_at"])
    _backfill()


def _backfill() -> None:
    # The same bucketing and groups the usage writer uses from now on.
    from omniroute.db.latency_buckets import bucket_of
    from omniroute.db.tables import row_group

    bind = op.get_bind()
    columns = ("id", "created_at", "model_used", "model_requested", "provider", "agent", "source",
               "api_key_id", "status", "latency_ms", "cost")
    logs = sa.table("usage_logs", *(sa.column(name, sqlmodel.sql.sqltypes.UTCDateTime()) if name == "created_at"
                                    else sa.column(name) for name in columns))
    latency: dict[tuple[Any, ...], int] = defaultdict(int)
    unpriced: dict[tuple[Any, ...], int] = defaultdict(int)
    last = 0
    while rows := bind.execute(
        sa.select(*(logs.c[name] for name in columns)).where(logs.c.id > last).order_by(logs.c.id).limit(BATCH)
    ).mappings().all():
        for row in rows:
            key = (row["created_at"].replace(minute=0, second=0, microsecond=0), *row_group(row))
            if row["cost"] is None:
                unpriced[key] += 1
            if row["status"] < 400:
                latency[(*key, bucket_of(row["latency_ms"]))] += 1
        last = rows[-1]["id"]
    hourly = sa.table("usage_hourly", *_keys(), sa.column("unpriced"))
    if unpriced:
        bind.execute(
            hourly.update().where(*(hourly.c[name] == sa.bindparam(f"k_{name}") for name in KEYS))
            .values(unpriced=sa.bindparam("n")),
            [{**{f"k_{name}": value for name, value in zip(KEYS, key, strict=True)}, "n": n}
             for key, n in unpriced.items()],
        )
    table = sa.table("usage_latency", *_keys(), sa.column("bucket"), sa.column("calls"))
    items = list(latency.items())
    for start in range(0, len(items), BATCH):
        bind.execute(table.insert(), [
            {**dict(zip((*KEYS, "bucket"), key, strict=True)), "calls": calls} for key, calls in items[start:start + BATCH]
        ])


def _keys() -> list[sa.ColumnClause[Any]]:
    # Typed: the hour must be written and compared in the format the tables store it in.
    return [sa.column(name, sqlmodel.sql.sqltypes.UTCDateTime() if name == "hour" else sa.String())
            for name in KEYS]


def downgrade() -> None:
    op.drop_index("ix_usage_logs_status_created_at", table_name="usage_logs")
    op.drop_table("usage_latency")
    with op.batch_alter_table("usage_hourly", schema=None) as batch_op:
        batch_op.drop_column("unpriced")
