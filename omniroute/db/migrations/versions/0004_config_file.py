"""config file: rows the declarative config file owns

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Every table `omniroute run --config FILE` writes to (omniroute/configfile/apply.py).
TABLES = (
    "provider_connections", "model_aliases", "combos", "api_keys", "agent_mappings",
    "key_values", "fallback_chains",
)


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("from_config", sa.Boolean(), nullable=False, server_default=sa.false())
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("from_config")
