"""The append-only ledger (台账): one entry per transition or recorded action."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class LedgerEntry(Base):
    """Who did what to which item, when, from which state to which.

    ``seq`` numbers an item's entries 1, 2, 3... under the item's row lock, and the unique
    constraint makes a duplicate impossible even if a lock were bypassed. ``hash`` chains
    each entry to the item's previous one (``prev_hash``) so an edit shows.
    """

    __tablename__ = "ledger_entry"
    __table_args__ = (
        UniqueConstraint("item_type", "item_id", "seq"),
        Index("ix_ledger_entry_at", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    item_type: Mapped[str] = mapped_column(String(24))
    item_id: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    actor_role: Mapped[str] = mapped_column(String(24), default="")
    client: Mapped[str] = mapped_column(String(40), default="")  # machine client name, "system"
    trigger: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str | None] = mapped_column(String(40))
    workflow: Mapped[str] = mapped_column(String(40), default="")
    workflow_version: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comment: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64), default="")


class AccessDenial(Base):
    """A refused action, kept for audit: who tried what on which item, and why it was refused."""

    __tablename__ = "access_denial"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    client: Mapped[str] = mapped_column(String(40), default="")
    action: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(80), default="")
    reason: Mapped[str] = mapped_column(Text)
