"""Duty shifts (班次) and handovers (交接班)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .item import WorkflowItem
from .org import Center
from .people import Person


class DutyShift(WorkflowItem, Base):
    """One 08:30-to-08:30 shift of a center, with its shift lead."""

    __tablename__ = "duty_shift"
    __table_args__ = (UniqueConstraint("center_id", "starts_at"),)
    item_type = "duty_shift"

    center_id: Mapped[int] = mapped_column(ForeignKey("center.id"))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    leader_on_shift_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    center: Mapped[Center] = relationship()
    lead: Mapped[Person | None] = relationship(foreign_keys=[lead_id])


class Handover(WorkflowItem, Base):
    """The handover from one shift to the next, held as the morning meeting (晨会)."""

    __tablename__ = "handover"
    item_type = "handover"

    outgoing_shift_id: Mapped[int] = mapped_column(ForeignKey("duty_shift.id"), unique=True)
    incoming_shift_id: Mapped[int] = mapped_column(ForeignKey("duty_shift.id"))

    outgoing_shift: Mapped[DutyShift] = relationship(foreign_keys=[outgoing_shift_id])
    incoming_shift: Mapped[DutyShift] = relationship(foreign_keys=[incoming_shift_id])
