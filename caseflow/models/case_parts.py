"""The parts of a case that are rows of their own: participants, supervisions, reporters, time limits.

Kept out of ``case.py`` so the case table itself stays as migrated: everything a case
gains in its lifecycle lives here or in ``Case.data``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .org import Department

PARTICIPANT_ROLES = ("lead", "cooperating")
PARTICIPANT_STATES = ("assigned", "signed", "reported", "withdrawn")
SUPERVISION_METHODS = ("phone", "written", "on_site")
TIME_LIMIT_STAGES = ("sign", "handle", "check")
TIME_LIMIT_CLOCKS = ("working", "wall")


class CaseParticipant(Base):
    """One department's part in a complex or joint case: the lead or a co-operating one.

    Each part is signed for and reported on by its own department; the case moves on
    when the lead reports and closes when the lead's result passes the check.
    """

    __tablename__ = "case_participant"
    __table_args__ = (UniqueConstraint("case_id", "department_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # lead | cooperating
    state: Mapped[str] = mapped_column(String(16), default="assigned")
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column()
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    reported_at: Mapped[datetime | None] = mapped_column()
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    result: Mapped[str] = mapped_column(Text, default="")

    department: Mapped[Department] = relationship()


class Supervision(Base):
    """A supervision (督办) of the department holding a case: how, by whom, what, by when."""

    __tablename__ = "supervision"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    method: Mapped[str] = mapped_column(String(16))  # phone | written | on_site
    by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    by_name: Mapped[str] = mapped_column(String(120), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
    requirement: Mapped[str] = mapped_column(Text)
    due_by: Mapped[datetime | None] = mapped_column()


class CaseReporter(Base):
    """Who reported a case, over which channel, with which outside reference and evidence.

    A merged duplicate's reporters move onto the original, so nobody who reported is lost.
    ``(channel, external_ref)`` is unique: it is what makes intake idempotent.
    """

    __tablename__ = "case_reporter"
    __table_args__ = (
        UniqueConstraint("channel", "external_ref"),
        Index("ix_case_reporter_case", "case_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    external_ref: Mapped[str | None] = mapped_column(String(80))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    client: Mapped[str] = mapped_column(String(40), default="")
    name: Mapped[str] = mapped_column(String(120), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    device_id: Mapped[str] = mapped_column(String(80), default="")
    contact: Mapped[dict[str, Any]] = mapped_column(default=dict)  # anything else the channel sent
    # References to stored evidence (file ids or URLs) that came with this report.
    evidence_refs: Mapped[list[Any]] = mapped_column(default=list)
    merged_from_case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)


class TimeLimit(Base):
    """The time limit of one stage (sign, handle, check) for a tier, optionally per category.

    A row with ``category_id`` NULL is the tier's default; a category row wins over it.
    ``duration`` uses the workflow syntax (``4h``, ``1d``, ``30m``); ``d`` on the working
    clock means one working day.
    """

    __tablename__ = "time_limit"
    __table_args__ = (UniqueConstraint("category_id", "tier", "stage"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    tier: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16))
    duration: Mapped[str] = mapped_column(String(16))
    clock: Mapped[str] = mapped_column(String(16), default="working")
