"""Urban-operations cases (城运案件)."""
from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, bindparam, select
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from .base import Base
from .category import Category
from .geo import Grid
from .item import WorkflowItem
from .org import Center, Department
from .people import Person

CHANNELS = ("patrol", "hotline", "app", "sensor", "linkage_110", "referral")
# States after which a case takes no further change (the archive is read-only).
READ_ONLY_STATES = ("archived",)


class Case(WorkflowItem, Base):
    """A reported problem, from discovery to archive; its lifecycle is its tier's workflow."""

    __tablename__ = "case"
    __table_args__ = (
        # Intake's duplicate search (services/cases/duplicates.py): same category, a lat band of
        # the radius, then lon and time checked in the index. Without it every intake read the
        # whole table (17 ms at 38,000 cases) while holding the case-number counter's lock.
        Index("ix_case_duplicate_search", "category_id", "lat", "lon", "reported_at"),
    )
    item_type = "case"

    number: Mapped[str] = mapped_column(String(40), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_ref: Mapped[str | None] = mapped_column(String(80))  # 12345 ticket, sensor event id
    tier: Mapped[str] = mapped_column(String(16))
    urgent: Mapped[bool] = mapped_column(default=False)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    center_id: Mapped[int | None] = mapped_column(ForeignKey("center.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"))
    area_kind: Mapped[str] = mapped_column(String(16), default="main_urban")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    reported_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()

    category: Mapped[Category | None] = relationship()
    center: Mapped[Center | None] = relationship()
    grid: Mapped[Grid | None] = relationship()
    department: Mapped[Department | None] = relationship()
    reporter: Mapped[Person | None] = relationship()

    def scope_department_ids(self) -> set[int | None]:
        """Departments whose handlers may see and act on the case: the holder and every participant."""
        ids: set[int | None] = {self.department_id}
        session = object_session(self)
        if session is not None and self.id is not None:
            ids.update(session.execute(_participant_departments(), {"case_id": self.id}).scalars())
        return ids

    @property
    def read_only(self) -> bool:
        """True once archived: any further change is refused."""
        return self.state in READ_ONLY_STATES


@cache
def _participant_departments() -> Any:
    """The departments taking part in a case (``case_id`` bound at execution): built once, as every
    handler's transition runs it."""
    from .case_parts import CaseParticipant  # the parts module imports nothing from here

    return select(CaseParticipant.department_id).where(
        CaseParticipant.case_id == bindparam("case_id"), CaseParticipant.state != "withdrawn")
