"""case_fact: per-case step times and counts folded from the ledger, for the period reports

Revision ID: 0009
Revises: 0008 (0008_report_status)
Create Date: 2026-12-04 09:00:00

A month's report read every ledger entry of the month's cases (about 420,000 for 80,000
cases) to find each case's step times; the facts keep that per case, refreshed when its
ledger head moves (caseflow/analysis/case_facts.py). ``ix_case_reported_at`` now also carries
``ledger_seq`` so the cohort's freshness check stays an index-only scan on PostgreSQL. The
table starts empty: the first report of a period fills in its cases.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import caseflow.models.base

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_OLD_INCLUDE = ['id', 'department_id', 'category_id', 'grid_id', 'channel', 'tier', 'state']


def _times(*names: str) -> list[sa.Column]:
    return [sa.Column(n, caseflow.models.base.UTCDateTime(timezone=True), nullable=True) for n in names]


def _counts(*names: str) -> list[sa.Column]:
    return [sa.Column(n, sa.Integer(), nullable=False) for n in names]


def upgrade() -> None:
    op.create_table(
        'case_fact',
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('ledger_seq', sa.Integer(), nullable=False),
        *_times('reported_at', 'last_at', 'register_at', 'registered_at'),
        *_counts('voids'),
        *_times('dispatched_at'),
        *_counts('redispatches'),
        *_times('signed_at', 'result_at', 'closed_at', 'last_result_at', 'last_pass_at'),
        *_counts('checks', 'reworks', 'ext_requests', 'ext_approved', 'def_requests', 'def_approved',
                 'callbacks', 'satisfied', 'unsatisfied', 'grade_sum', 'graded', 'late'),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_fact_case_id_case'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('case_id', name=op.f('pk_case_fact')),
    )
    with op.batch_alter_table('case_fact') as batch_op:
        batch_op.create_index(batch_op.f('ix_case_fact_reported_at'), ['reported_at'], unique=False)
    with op.batch_alter_table('case') as batch_op:
        batch_op.drop_index('ix_case_reported_at', postgresql_include=_OLD_INCLUDE)
        batch_op.create_index('ix_case_reported_at', ['reported_at'], unique=False,
                              postgresql_include=[*_OLD_INCLUDE, 'ledger_seq'])


def downgrade() -> None:
    with op.batch_alter_table('case') as batch_op:
        batch_op.drop_index('ix_case_reported_at', postgresql_include=[*_OLD_INCLUDE, 'ledger_seq'])
        batch_op.create_index('ix_case_reported_at', ['reported_at'], unique=False, postgresql_include=_OLD_INCLUDE)
    with op.batch_alter_table('case_fact') as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_fact_reported_at'))
    op.drop_table('case_fact')
