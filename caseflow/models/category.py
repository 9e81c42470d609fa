"""Event/problem categories: acceptance scope, responsible department, default tier."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .org import Department

TIERS = ("simple", "general", "complex", "difficult")


class Category(Base):
    """A category of event or problem; ``in_scope`` is the bureau's acceptance scope (受理范围)."""

    __tablename__ = "category"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    field: Mapped[str] = mapped_column(String(40), default="")  # the deputy leader's field
    in_scope: Mapped[bool] = mapped_column(default=True)
    responsible_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    default_tier: Mapped[str] = mapped_column(String(16), default="general")
    # False hides the category from new reports; cases and instructions filed under it keep it.
    active: Mapped[bool] = mapped_column(default=True)

    responsible_department: Mapped[Department | None] = relationship()
