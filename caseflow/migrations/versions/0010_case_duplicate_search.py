"""case: an index for intake's duplicate search

Revision ID: 0010
Revises: 0009 (0009_case_fact)
Create Date: 2026-12-05 09:00:00

The duplicate search at intake (same category, within the radius, within the window) had no
index to use: the window covers a whole busy day, so PostgreSQL read the whole case table on
every intake (17 ms at 38,000 cases, growing through bench/replay_day.py's day, while the
intake held the case-number counter's row lock). ``(category_id, lat, lon, reported_at)``
narrows it to one category's thin latitude band.
"""
from __future__ import annotations

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case') as batch_op:
        batch_op.create_index('ix_case_duplicate_search', ['category_id', 'lat', 'lon', 'reported_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case') as batch_op:
        batch_op.drop_index('ix_case_duplicate_search')
