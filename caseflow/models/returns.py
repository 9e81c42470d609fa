"""Return requests (申请退单): a department asks the dispatcher to take a case back."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .case import Case
from .item import WorkflowItem
from .org import Department
from .regulation import Regulation

# regulation / duty_list: ``basis_ref_id`` names a Regulation row of that kind; free_text: cited in ``basis``.
BASIS_KINDS = ("regulation", "duty_list", "free_text")
# Who decides: the dispatcher, or the center's leader for a department's repeated request.
REVIEWER_ROLES = ("dispatcher", "leader")


class ReturnRequest(WorkflowItem, Base):
    """One request to return a case, with its reason and legal or policy basis.

    ``attempt`` numbers the requesting department's requests on the case (1, 2, ...);
    ``category_id`` is the case's category when asked, so the return report stays stable if
    the case is re-classified later. ``to_department_id`` is where an approved return sent it.
    """

    __tablename__ = "return_request"
    item_type = "return_request"

    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    reason: Mapped[str] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(Text)
    suggested_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    basis_kind: Mapped[str] = mapped_column(String(16), default="free_text")
    basis_ref_id: Mapped[int | None] = mapped_column(ForeignKey("regulation.id"))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    reviewer_role: Mapped[str] = mapped_column(String(16), default="dispatcher")
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    to_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))

    case: Mapped[Case] = relationship()
    department: Mapped[Department] = relationship(foreign_keys=[department_id])
    suggested_department: Mapped[Department | None] = relationship(foreign_keys=[suggested_department_id])
    to_department: Mapped[Department | None] = relationship(foreign_keys=[to_department_id])
    basis_ref: Mapped[Regulation | None] = relationship()
