"""Organisation: centers, departments/units, emergency action groups, leader positions."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base

if TYPE_CHECKING:
    from .people import Person

CENTER_LEVELS = ("district", "street")
LEADER_POSITIONS = ("deputy_in_charge", "principal")


class Center(Base):
    """An operations center: the district center (区城运中心) or a street center (街道城运中心)."""

    __tablename__ = "center"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(16))  # district | street
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("center.id"))

    parent: Mapped[Center | None] = relationship(remote_side=[id])


class Department(Base):
    """A department or unit (部门/单位) that handles work; ``head`` is its unit head."""

    __tablename__ = "department"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), default="department")  # department | unit
    center_id: Mapped[int | None] = mapped_column(ForeignKey("center.id"))
    head_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", use_alter=True))
    # Working hours of the unit itself, e.g. "08:30-12:00,13:30-17:30"; empty = the default.
    working_hours: Mapped[str] = mapped_column(String(80), default="")
    # False hides the department from new work; rows that name it (history) keep pointing at it.
    active: Mapped[bool] = mapped_column(default=True)

    center: Mapped[Center | None] = relationship()
    head: Mapped[Person | None] = relationship(foreign_keys=[head_id])
    action_group: Mapped[ActionGroup | None] = relationship(back_populates="department", uselist=False)


class ActionGroup(Base):
    """A unit's emergency action group (应急行动组); it covers the unit's off-hours."""

    __tablename__ = "action_group"
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", use_alter=True))

    department: Mapped[Department] = relationship(back_populates="action_group")
    leader: Mapped[Person | None] = relationship(foreign_keys=[leader_id])


class LeaderPosition(Base):
    """Who holds a leader position: a deputy leader in charge of a field, or the principal leader."""

    __tablename__ = "leader_position"
    __table_args__ = (UniqueConstraint("center_id", "kind", "field"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("center.id"))
    kind: Mapped[str] = mapped_column(String(24))  # deputy_in_charge | principal
    field: Mapped[str] = mapped_column(String(40), default="")  # empty for the principal leader
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))

    person: Mapped[Person] = relationship()
