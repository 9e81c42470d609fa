"""Deadlines, escalation runs and the notification outbox: the database is the truth."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

DEADLINE_STATUSES = ("pending", "paused", "fired", "cancelled")


class Deadline(Base):
    """One armed deadline of an item in a state.

    Written in the same transaction as the transition that arms it; fires at most once,
    and only while the item is still in ``state`` with the same ``state_seq``.
    """

    __tablename__ = "deadline"
    __table_args__ = (
        Index("ix_deadline_status_due", "status", "due_at"),
        Index("ix_deadline_item", "item_type", "item_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    item_type: Mapped[str] = mapped_column(String(24))
    item_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(40))  # the deadline id in the workflow YAML
    state: Mapped[str] = mapped_column(String(40))
    state_seq: Mapped[int] = mapped_column(Integer)
    clock: Mapped[str] = mapped_column(String(16), default="wall")  # wall | working
    armed_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # What expiry does, copied from the definition at arming time: {"trigger":..., "escalation":...}
    on_expiry: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A paused deadline keeps the time it had left (seconds, or working seconds).
    remaining_s: Mapped[float | None] = mapped_column()
    fired_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()
    fire_attempts: Mapped[int] = mapped_column(Integer, default=0)


class EscalationRun(Base):
    """An escalation chain started on an item; its steps are copied at start."""

    __tablename__ = "escalation_run"
    __table_args__ = (Index("ix_escalation_status_next", "status", "next_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    item_type: Mapped[str] = mapped_column(String(24))
    item_id: Mapped[int] = mapped_column(Integer)
    chain: Mapped[str] = mapped_column(String(40))
    deadline_id: Mapped[int | None] = mapped_column(ForeignKey("deadline.id"))
    state: Mapped[str] = mapped_column(String(40))
    state_seq: Mapped[int] = mapped_column(Integer)
    steps: Mapped[list[Any]] = mapped_column(default=list)
    step_index: Mapped[int] = mapped_column(Integer, default=0)
    repeat_index: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|acknowledged|stopped|done
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_at: Mapped[datetime | None] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))


class EscalationNotice(Base):
    """One person told at one step of an escalation run."""

    __tablename__ = "escalation_notice"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("escalation_run.id"), index=True)
    step_index: Mapped[int] = mapped_column(Integer)
    repeat_index: Mapped[int] = mapped_column(Integer, default=0)
    target: Mapped[str] = mapped_column(String(40))  # the role/position named in the step
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    notified_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """The outbox: one message to one address over one channel, delivered after commit."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_status_next", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # webhook | email | sms | wecom | linkage_110
    address: Mapped[str] = mapped_column(String(255))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    item_type: Mapped[str] = mapped_column(String(24), default="")
    item_id: Mapped[int | None] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
