"""Return requests (申请退单): a department asks the dispatcher to take a case back."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .case import Case
from .item import WorkflowItem


class ReturnRequest(WorkflowItem, Base):
    """One request to return a case, with its reason and legal or policy basis."""

    __tablename__ = "return_request"
    item_type = "return_request"

    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    reason: Mapped[str] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(Text)
    suggested_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))

    case: Mapped[Case] = relationship()
