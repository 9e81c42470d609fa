"""active flag on department, category and area: administrators deactivate instead of deleting

Revision ID: 0006
Revises: 0005 (0005_duty_special_periods)
Create Date: 2026-11-28 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

TABLES = ("department", "category", "area")


def upgrade() -> None:
    # Every existing row stays in use: the server default fills them in.
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('active')
