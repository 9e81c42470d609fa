"""ledger chain head on every workflow item (ledger_seq, ledger_head), filled from the ledger

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 21:45:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# table -> the item_type its ledger entries carry
ITEM_TABLES = {
    "case": "case", "instruction": "instruction", "return_request": "return_request",
    "duty_shift": "duty_shift", "handover": "handover", "roll_call": "roll_call",
}


def upgrade() -> None:
    for table, item_type in ITEM_TABLES.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('ledger_seq', sa.Integer(), server_default='0', nullable=False))
            batch.add_column(sa.Column('ledger_head', sa.String(length=64), server_default='', nullable=False))
        # Correlated subqueries: the same statement on PostgreSQL and SQLite.
        op.execute(sa.text(
            f'UPDATE "{table}" SET '
            f'ledger_seq = COALESCE((SELECT max(l.seq) FROM ledger_entry l '
            f'WHERE l.item_type = :t AND l.item_id = "{table}".id), 0), '
            f'ledger_head = COALESCE((SELECT l.hash FROM ledger_entry l '
            f'WHERE l.item_type = :t AND l.item_id = "{table}".id ORDER BY l.seq DESC LIMIT 1), \'\')'
        ).bindparams(t=item_type))


def downgrade() -> None:
    for table in ITEM_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('ledger_head')
            batch.drop_column('ledger_seq')
