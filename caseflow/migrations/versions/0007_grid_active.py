"""active flag on grid: administrators deactivate a grid instead of deleting it

Revision ID: 0007
Revises: 0006 (0006_admin_active_flags)
Create Date: 2026-12-02 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every existing grid stays in use: the server default fills them in.
    with op.batch_alter_table("grid") as batch:
        batch.add_column(sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("grid") as batch:
        batch.drop_column('active')
