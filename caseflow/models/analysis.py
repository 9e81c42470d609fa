"""Analysis and assessment: scoring rules, assessment settings, stored reports, and the
indexes the period reports need on tables owned elsewhere.

The indexes are declared here (against the other tables' columns) so that the reports'
needs stay in one place; they join the ``case`` / ``ledger_entry`` / ``deadline`` tables'
metadata like any index declared there.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow
from .case import Case
from .case_parts import Supervision
from .deadline import Deadline
from .instruction import Instruction
from .ledger import LedgerEntry

REPORT_KINDS = ("day", "week", "month", "quarter", "year")
REPORT_STATUSES = ("pending", "ready", "failed")
# The street's share of a department's assessment must be at least one third (seed 001 篇一).
MIN_STREET_SHARE = 1 / 3


class ScoringRule(Base):
    """One scoring rule: ``points`` (negative deducts) for each ``event`` a department caused.

    Like seed 001 篇二: "回复不及时的每件扣 2 分" is ``ScoringRule(code="late_reply",
    event="late_reply", points=-2)``. ``cap`` bounds what one rule can move a score in a
    period (absolute points); ``None`` means no bound.
    """

    __tablename__ = "scoring_rule"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    event: Mapped[str] = mapped_column(String(40))  # see caseflow.analysis.assessment.EVENTS
    description: Mapped[str] = mapped_column(Text, default="")
    points: Mapped[float] = mapped_column(Float)
    cap: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(default=True)


class AssessmentConfig(Base):
    """How a department's street assessment is scored: base score, floor and the street's share.

    A row with ``department_id`` NULL is the default; a department's own row wins over it.
    ``street_share`` (>= 1/3) is applied when ``apply_share`` is set: the street's score then
    weighs that much of the department's whole assessment.
    """

    __tablename__ = "assessment_config"
    __table_args__ = (UniqueConstraint("department_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    base_score: Mapped[float] = mapped_column(Float, default=100.0)
    min_score: Mapped[float] = mapped_column(Float, default=0.0)
    street_share: Mapped[float] = mapped_column(Float, default=MIN_STREET_SHARE)
    apply_share: Mapped[bool] = mapped_column(default=False)


class CaseFact(Base):
    """A case's step times and counts as folded from its ledger (see caseflow/analysis/case_facts.py).

    A cache for the period reports: a row counts only while ``ledger_seq`` equals the case's
    ledger head (no entry was added since) and ``last_at`` lies before the report's ``as_of``;
    otherwise the report reads the case's ledger itself.
    """

    __tablename__ = "case_fact"
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), primary_key=True)
    ledger_seq: Mapped[int] = mapped_column(Integer)  # the case's ledger head when folded
    reported_at: Mapped[datetime | None] = mapped_column(index=True)  # the case's, to find a period's rows
    last_at: Mapped[datetime | None] = mapped_column()  # the latest entry folded in
    register_at: Mapped[datetime | None] = mapped_column()
    registered_at: Mapped[datetime | None] = mapped_column()
    voids: Mapped[int] = mapped_column(Integer, default=0)
    dispatched_at: Mapped[datetime | None] = mapped_column()
    redispatches: Mapped[int] = mapped_column(Integer, default=0)
    signed_at: Mapped[datetime | None] = mapped_column()
    result_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    last_result_at: Mapped[datetime | None] = mapped_column()
    last_pass_at: Mapped[datetime | None] = mapped_column()
    checks: Mapped[int] = mapped_column(Integer, default=0)
    reworks: Mapped[int] = mapped_column(Integer, default=0)
    ext_requests: Mapped[int] = mapped_column(Integer, default=0)
    ext_approved: Mapped[int] = mapped_column(Integer, default=0)
    def_requests: Mapped[int] = mapped_column(Integer, default=0)
    def_approved: Mapped[int] = mapped_column(Integer, default=0)
    callbacks: Mapped[int] = mapped_column(Integer, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)
    unsatisfied: Mapped[int] = mapped_column(Integer, default=0)
    grade_sum: Mapped[int] = mapped_column(Integer, default=0)
    graded: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[int] = mapped_column(Integer, default=0)  # 1: a handling limit fired (not in returned time)


class StoredReport(Base):
    """A generated period report (日研判、周提示、月通报、季分析、年总结) kept as its data."""

    __tablename__ = "stored_report"
    __table_args__ = (UniqueConstraint("kind", "period_start"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # day | week | month | quarter | year
    period_start: Mapped[date] = mapped_column(Date)  # local (Asia/Shanghai) first day
    start_at: Mapped[datetime] = mapped_column()  # UTC bounds of the period [start_at, end_at)
    end_at: Mapped[datetime] = mapped_column()
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    generated_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # On-demand generation runs as an RQ job (caseflow/analysis/report_requests.py): the row is
    # "pending" from the request until the job stores the data ("ready") or fails ("failed", with
    # ``error``). A regeneration keeps the earlier data meanwhile. Rows from before are "ready".
    status: Mapped[str] = mapped_column(String(16), default="ready", server_default="ready")
    error: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime | None] = mapped_column()  # when the pending generation was asked for


# --- indexes the period reports rely on (measured with bench/reports.py) -----------------------
# The cohort of a period: cases reported in it, with what the reports slice by (index-only).
Index("ix_case_reported_at", Case.reported_at,
      postgresql_include=["id", "department_id", "category_id", "grid_id", "channel", "tier", "state",
                          "ledger_seq"])
# A cohort's ledger entries, read with index-only scans on PostgreSQL (the timeline needs
# only these columns); elsewhere an ordinary index on the key.
Index("ix_ledger_entry_timeline", LedgerEntry.item_type, LedgerEntry.item_id,
      postgresql_include=["seq", "at", "trigger", "workflow"])
# Callbacks of a cohort with their grade, index-only (few rows: a partial index).
Index("ix_ledger_entry_callback", LedgerEntry.item_type, LedgerEntry.item_id,
      postgresql_include=["at", "payload"], postgresql_where=LedgerEntry.trigger == "callback",
      sqlite_where=LedgerEntry.trigger == "callback")
# A case's department by id without reading the case row (events joined to their case).
Index("ix_case_id_department", Case.id, postgresql_include=["department_id"])
# Events of a period by trigger (closures per day, rework, returns, callbacks), index-only.
Index("ix_ledger_entry_trigger_at", LedgerEntry.trigger, LedgerEntry.at,
      postgresql_include=["item_type", "item_id"])
# Cases that missed a handling limit (on-time closure, late replies): fired rows only.
Index("ix_deadline_fired", Deadline.item_type, Deadline.item_id, Deadline.due_at,
      postgresql_where=Deadline.status == "fired", sqlite_where=Deadline.status == "fired",
      postgresql_include=["key"])
# Instructions received in a period.
Index("ix_instruction_received_at", Instruction.received_at)
# Supervisions of a period.
Index("ix_supervision_at", Supervision.at)
