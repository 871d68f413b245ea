"""usage: a call whose model has no known price stores no cost (NULL), not 0

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_logs", schema=None) as batch_op:
        batch_op.alter_column("cost", existing_type=sqlmodel.sql.sqltypes.AutoString(), nullable=True)


def downgrade() -> None:
    op.execute(sa.text("UPDATE usage_logs SET cost = '0' WHERE cost IS NULL"))
    with op.batch_alter_table("usage_logs", schema=None) as batch_op:
        batch_op.alter_column("cost", existing_type=sqlmodel.sql.sqltypes.AutoString(), nullable=False)
