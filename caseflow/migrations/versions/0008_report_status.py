"""stored_report: status, error and requested_at for on-demand generation as an RQ job

Revision ID: 0008
Revises: 0007 (0007_grid_active)
Create Date: 2026-12-03 09:00:00

A report asked for in the console or the API is now a "pending" row that a job fills in
("ready") or marks "failed" with the error. Every existing row holds a finished report: the
server default makes it "ready".
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import caseflow.models.base

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stored_report') as batch:
        batch.add_column(sa.Column('status', sa.String(length=16), server_default='ready', nullable=False))
        batch.add_column(sa.Column('error', sa.Text(), nullable=True))
        batch.add_column(sa.Column('requested_at', caseflow.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('stored_report') as batch:
        batch.drop_column('requested_at')
        batch.drop_column('error')
        batch.drop_column('status')
