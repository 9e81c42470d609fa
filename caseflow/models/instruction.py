"""Emergency-linkage instructions (应急联动指令) from the city linkage center (110)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .category import Category
from .geo import Grid
from .item import WorkflowItem
from .org import Department

SEVERITIES = ("ordinary", "larger", "major")


class Instruction(WorkflowItem, Base):
    """One instruction from 110: signed, dispatched, arrived, handled, answered."""

    __tablename__ = "instruction"
    item_type = "instruction"

    number: Mapped[str] = mapped_column(String(40), unique=True)  # the 110 instruction number
    received_at: Mapped[datetime] = mapped_column()
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"))
    area_kind: Mapped[str] = mapped_column(String(16), default="main_urban")
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    description: Mapped[str] = mapped_column(Text, default="")
    caller_contact: Mapped[str] = mapped_column(String(120), default="")
    severity: Mapped[str] = mapped_column(String(16), default="ordinary")
    leader_on_site: Mapped[bool] = mapped_column(default=False)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    to_action_group: Mapped[bool] = mapped_column(default=False)
    signed_at: Mapped[datetime | None] = mapped_column()
    dispatched_at: Mapped[datetime | None] = mapped_column()
    arrived_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()

    category: Mapped[Category | None] = relationship()
    grid: Mapped[Grid | None] = relationship()
    department: Mapped[Department | None] = relationship()

    # Facts the ledger (台账) needs beyond the columns above live in ``data`` (no migration
    # is needed for them): place, situation, result, late_reason, follow_up, transfer, ...
    RECORD_KEYS = (
        "place", "situation", "result", "late_reason", "follow_up", "not_ours", "keep_order",
        "decline_explanation", "declined_at", "transfers", "severity_reports", "answers_110",
        "route", "area_source",
    )

    def record(self, key: str, default: Any = None) -> Any:
        """One recorded fact from ``data`` (see ``RECORD_KEYS``)."""
        return (self.data or {}).get(key, default)

    def set_record(self, key: str, value: Any) -> None:
        """Store a fact in ``data``; the dict is replaced so the JSON column sees the change."""
        data = dict(self.data or {})
        data[key] = value
        self.data = data

    def append_record(self, key: str, value: Any) -> None:
        """Append to a list fact in ``data`` (transfers, severity reports, answers to 110)."""
        items = list(self.record(key) or [])
        items.append(value)
        self.set_record(key, items)
