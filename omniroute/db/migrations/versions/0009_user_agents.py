"""user agents: agents the user defines (hosts, User-Agent tokens, wire format, paths)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 20:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_agents",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("hosts", sa.JSON(), nullable=False),
        sa.Column("user_agents", sa.JSON(), nullable=False),
        sa.Column("wire_format", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("paths", sa.JSON(), nullable=False),
        sa.Column("from_config", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("user_agents")
