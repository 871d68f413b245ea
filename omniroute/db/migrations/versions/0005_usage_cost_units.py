"""usage cost units: the cost as an integer, so the Usage page sums it in SQL

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 20:10:00
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 5_000


def upgrade() -> None:
    with op.batch_alter_table("usage_logs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cost_units", sa.BigInteger(), nullable=False, server_default="0")
        )
    # Existing rows: from the exact decimal text, in Python (a SQL cast would go through
    # floating point on SQLite). Only priced rows need it; most rows of a local proxy cost "0".
    from omniroute.db.tables import cost_units  # the one conversion the writer uses too

    bind = op.get_bind()
    logs = sa.table("usage_logs", sa.column("id", sa.Integer), sa.column("cost", sa.String),
                    sa.column("cost_units", sa.BigInteger))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(logs.c.id, logs.c.cost)
            .where(logs.c.id > last, logs.c.cost.not_in(("0", "", "0.0")))
            .order_by(logs.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        bind.execute(
            logs.update().where(logs.c.id == sa.bindparam("row_id"))
            .values(cost_units=sa.bindparam("units")),
            [{"row_id": row_id, "units": cost_units(Decimal(cost or "0"))} for row_id, cost in rows],
        )
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("usage_logs", schema=None) as batch_op:
        batch_op.drop_column("cost_units")
