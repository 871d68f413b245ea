"""inspector: session profile, custom capture hosts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 07:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Which rows a recording session keeps (InspectorSession.profile in the
    # OmniRoute API specification); null = all.
    with op.batch_alter_table("inspector_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("profile", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.create_table(
        "inspector_custom_hosts",
        sa.Column("host", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("added_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("host"),
    )


def downgrade() -> None:
    op.drop_table("inspector_custom_hosts")
    with op.batch_alter_table("inspector_sessions", schema=None) as batch_op:
        batch_op.drop_column("profile")
