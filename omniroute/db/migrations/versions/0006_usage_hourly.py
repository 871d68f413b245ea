"""usage hourly: the Usage page's sums per hour and group, kept by the usage writer

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MEASURES = ("requests", "errors", "tokens_in", "tokens_out", "tokens_cached", "cost_units")

# The rows written before this revision, summed per hour and group by the database; the same
# groups as `omniroute.engine.usage_sums.row_group`.
_BACKFILL = """
INSERT INTO usage_hourly (hour, model, provider, agent, api_key, {measures})
SELECT {hour} AS h,
       COALESCE(NULLIF(model_used, ''), model_requested) AS m,
       COALESCE(NULLIF(provider, ''), 'none') AS p,
       COALESCE(NULLIF(agent, ''), source) AS a,
       COALESCE(NULLIF(api_key_id, ''), 'none') AS k,
       COUNT(*), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END),
       SUM(tokens_in), SUM(tokens_out), SUM(tokens_cached), SUM(cost_units)
FROM usage_logs GROUP BY h, m, p, a, k
"""
_HOUR = {
    # The session runs in UTC (omniroute.db.database), so hours are UTC hours.
    "postgresql": "date_trunc('hour', created_at)",
    # As SQLAlchemy stores a datetime on SQLite: "YYYY-MM-DD HH:MM:SS.ffffff".
    "sqlite": "strftime('%Y-%m-%d %H:00:00.000000', created_at)",
}


def upgrade() -> None:
    op.create_table(
        "usage_hourly",
        sa.Column("hour", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("agent", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("api_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in MEASURES),
        sa.PrimaryKeyConstraint("hour", "model", "provider", "agent", "api_key"),
    )
    dialect = op.get_bind().dialect.name
    op.execute(_BACKFILL.format(measures=", ".join(MEASURES), hour=_HOUR[dialect]))


def downgrade() -> None:
    op.drop_table("usage_hourly")
