"""Duty-watch staffing rules of a center, and the special periods declared for it (特殊时期):
holidays, major events, sensitive periods and forecast disaster weather, when the rota needs
more people and a leader on shift (带班领导)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

PERIOD_KINDS = ("holiday", "major_event", "sensitive", "weather")


class DutyCenterRule(Base):
    """A center's own staffing rules; a NULL column means the configured default (``DUTY_*``)."""

    __tablename__ = "duty_center_rule"

    center_id: Mapped[int] = mapped_column(ForeignKey("center.id"), primary_key=True, autoincrement=False)
    min_staff: Mapped[int | None] = mapped_column(Integer)
    min_staff_holiday: Mapped[int | None] = mapped_column(Integer)
    min_staff_special: Mapped[int | None] = mapped_column(Integer)
    min_staff_emergency: Mapped[int | None] = mapped_column(Integer)
    holiday_needs_leader: Mapped[bool | None] = mapped_column()
    special_needs_leader: Mapped[bool | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))


class DutySpecialPeriod(Base):
    """Local days ``first_day``..``last_day`` (inclusive; the shifts starting at 08:30 on them) that
    are a special period of a center; a period of a district center covers its street centers too."""

    __tablename__ = "duty_special_period"

    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("center.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # one of PERIOD_KINDS
    name: Mapped[str] = mapped_column(String(120))
    first_day: Mapped[date] = mapped_column()
    last_day: Mapped[date] = mapped_column()
    # Staff (leads + officers) a shift of this period needs; NULL: the center's special-period minimum.
    min_staff: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    declared_at: Mapped[datetime] = mapped_column(default=utcnow)
    declared_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column()
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
