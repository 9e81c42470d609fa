"""What every workflow-driven record shares: its workflow version, state and lock column."""
from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from .base import utcnow


class WorkflowItem:
    """Mixin for cases, instructions, return requests, shifts and handovers.

    ``state_seq`` counts state entries: a deadline remembers the seq that armed it, so a
    deadline armed for an earlier visit of the same state never fires on a later one.
    ``version`` is an optimistic lock column (SQLAlchemy ``version_id_col``) under
    the row lock: on backends without ``FOR UPDATE`` the loser still gets a conflict.
    """

    item_type: ClassVar[str]

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow: Mapped[str] = mapped_column(String(40))
    workflow_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(40), index=True)
    state_seq: Mapped[int] = mapped_column(Integer, default=0)
    state_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The head of the item's ledger chain (seq and hash of its last entry), kept in the row
    # that transitions lock anyway: appending needs no read of the ledger, and a deleted
    # final entry no longer goes unnoticed by ``ledger verify``.
    ledger_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ledger_head: Mapped[str] = mapped_column(String(64), default="", server_default="")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        return {"version_id_col": cls.version}

    # Used by guards that need it; the department that currently holds the item.
    def owner_department_id(self) -> int | None:
        """The department whose handlers may act on this item (None: no department scope)."""
        return getattr(self, "department_id", None)
