"""Per-organisation calendar overrides on top of the statutory calendar."""
from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class CalendarOverride(Base):
    """Marks one date as a workday or a day off for everyone (center NULL) or one center."""

    __tablename__ = "calendar_override"
    __table_args__ = (UniqueConstraint("center_id", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int | None] = mapped_column(ForeignKey("center.id"))
    day: Mapped[date] = mapped_column()
    is_workday: Mapped[bool] = mapped_column()
    note: Mapped[str] = mapped_column(String(200), default="")
