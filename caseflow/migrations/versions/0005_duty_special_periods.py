"""duty watch: per-center staffing rules and declared special periods (holidays, major events)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 08:00:00

Two new tables, nothing to copy: a center without a rule row uses the configured defaults.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import caseflow.models.base

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('duty_center_rule',
    sa.Column('center_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('min_staff', sa.Integer(), nullable=True),
    sa.Column('min_staff_holiday', sa.Integer(), nullable=True),
    sa.Column('min_staff_special', sa.Integer(), nullable=True),
    sa.Column('min_staff_emergency', sa.Integer(), nullable=True),
    sa.Column('holiday_needs_leader', sa.Boolean(), nullable=True),
    sa.Column('special_needs_leader', sa.Boolean(), nullable=True),
    sa.Column('updated_at', caseflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['center_id'], ['center.id'], name=op.f('fk_duty_center_rule_center_id_center')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['person.id'], name=op.f('fk_duty_center_rule_updated_by_id_person')),
    sa.PrimaryKeyConstraint('center_id', name=op.f('pk_duty_center_rule'))
    )
    op.create_table('duty_special_period',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('center_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('min_staff', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('declared_at', caseflow.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('declared_by_id', sa.Integer(), nullable=True),
    sa.Column('cancelled_at', caseflow.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['person.id'], name=op.f('fk_duty_special_period_cancelled_by_id_person')),
    sa.ForeignKeyConstraint(['center_id'], ['center.id'], name=op.f('fk_duty_special_period_center_id_center')),
    sa.ForeignKeyConstraint(['declared_by_id'], ['person.id'], name=op.f('fk_duty_special_period_declared_by_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duty_special_period'))
    )
    with op.batch_alter_table('duty_special_period', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duty_special_period_center_id'), ['center_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('duty_special_period', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duty_special_period_center_id'))
    op.drop_table('duty_special_period')
    op.drop_table('duty_center_rule')
