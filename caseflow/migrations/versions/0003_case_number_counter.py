"""case number counter: one row per prefix, incremented atomically at intake

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:00:00

The first intake under a prefix seeds its row from the highest existing case number, so a
database upgraded mid-day keeps numbering where it was; no data needs copying here.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_number_counter',
    sa.Column('prefix', sa.String(length=40), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('prefix', name=op.f('pk_case_number_counter'))
    )


def downgrade() -> None:
    op.drop_table('case_number_counter')
