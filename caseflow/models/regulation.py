"""The maintained list of regulations and duty lists (法律法规 / 职责清单) a return request cites."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

# What a return request's basis may be: one of these rows (by kind), or free text.
REGULATION_KINDS = ("regulation", "duty_list")


class Regulation(Base):
    """One law, regulation, policy document or duty list (职责清单) that can be cited as a basis.

    Rows are never deleted once cited: ``active`` = False hides one from new requests while
    the requests that cited it keep pointing at it.
    """

    __tablename__ = "regulation"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="regulation")  # regulation | duty_list
    text: Mapped[str] = mapped_column(Text, default="")  # the cited article or duty, or a summary
    url: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
