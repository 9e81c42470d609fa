"""The duty watch: shifts (班次), assignments, swaps, the duty log, roll calls, handovers (交接班)
and emergency periods (平急转换)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
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

    @property
    def center_id(self) -> int:
        """The center whose shifts hand over (escalation targets resolve leaders from it)."""
        return self.outgoing_shift.center_id


ASSIGNMENT_ROLES = ("duty_lead", "duty_officer", "leader_on_shift")
SWAP_STATUSES = ("requested", "approved", "rejected")
LOG_TYPES = (
    "call_help", "call_enquiry", "call_complaint", "visitor", "roll_call", "urgent_document", "event", "note",
)
HANDOVER_ITEM_KINDS = (
    "instruction", "deadline", "case_review", "return_request", "urgent_document", "roll_call", "flagged_entry",
)
HANDOVER_ITEM_STATUSES = ("pending", "accepted", "disputed")
EMERGENCY_KINDS = ("typhoon", "snow_ice", "major_event", "other")


class DutyAssignment(Base):
    """One person on one shift as shift lead, duty officer or leader on shift (带班领导)."""

    __tablename__ = "duty_assignment"
    __table_args__ = (UniqueConstraint("shift_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("duty_shift.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    role: Mapped[str] = mapped_column(String(24))  # one of ASSIGNMENT_ROLES
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    shift: Mapped[DutyShift] = relationship()
    person: Mapped[Person] = relationship()


class SwapRequest(Base):
    """A request to hand one's place on a shift to someone else; a leader approves it."""

    __tablename__ = "duty_swap_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("duty_shift.id"), index=True)
    from_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    to_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_note: Mapped[str] = mapped_column(Text, default="")


class DutyLogEntry(Base):
    """One entry of the duty log (值班记录): a call, a visitor, a roll call, an urgent document, an event, a note.

    Type-specific fields stay NULL for other types; a visitor is never turned away without a record.
    """

    __tablename__ = "duty_log_entry"
    __table_args__ = (Index("ix_duty_log_center_at", "center_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("center.id"))
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("duty_shift.id"), index=True)
    type: Mapped[str] = mapped_column(String(24))  # one of LOG_TYPES
    at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    summary: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str] = mapped_column(String(120), default="")
    flagged: Mapped[bool] = mapped_column(default=False)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    instruction_id: Mapped[int | None] = mapped_column(ForeignKey("instruction.id"))
    # visitor (来访): what they asked, what was explained, where they were guided
    asked: Mapped[str] = mapped_column(Text, default="")
    explained: Mapped[str] = mapped_column(Text, default="")
    guided_to: Mapped[str] = mapped_column(String(200), default="")
    # roll call (点名应答) from the district center
    asked_at: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    # urgent document (紧急公文) for the principal leaders
    received_at: Mapped[datetime | None] = mapped_column()
    reported_to_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    reported_at: Mapped[datetime | None] = mapped_column()
    direction: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None] = mapped_column()
    done_note: Mapped[str] = mapped_column(Text, default="")


class RollCall(WorkflowItem, Base):
    """The answer clock of a roll-call log entry: its own small workflow, so the deadline engine
    (not a polling loop) escalates an unanswered roll call."""

    __tablename__ = "roll_call"
    item_type = "roll_call"

    center_id: Mapped[int] = mapped_column(ForeignKey("center.id"))
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("duty_shift.id"))
    log_entry_id: Mapped[int] = mapped_column(ForeignKey("duty_log_entry.id"), unique=True)

    log_entry: Mapped[DutyLogEntry] = relationship()


class HandoverItem(Base):
    """One open item carried by a handover; the incoming lead accepts or disputes it."""

    __tablename__ = "handover_item"
    __table_args__ = (UniqueConstraint("handover_id", "kind", "ref_type", "ref_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handover_id: Mapped[int] = mapped_column(ForeignKey("handover.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # one of HANDOVER_ITEM_KINDS
    ref_type: Mapped[str] = mapped_column(String(24))
    ref_id: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    note: Mapped[str] = mapped_column(Text, default="")  # the outgoing lead's note
    review_note: Mapped[str] = mapped_column(Text, default="")  # the incoming lead's note
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column()


class EmergencyPeriod(Base):
    """A switch of a center from normal to emergency mode (平急转换) and back."""

    __tablename__ = "emergency_period"

    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("center.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # one of EMERGENCY_KINDS
    reason: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    ended_at: Mapped[datetime | None] = mapped_column()
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    summary: Mapped[str] = mapped_column(Text, default="")
