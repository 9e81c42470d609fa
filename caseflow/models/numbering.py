"""Counters that hand out case numbers: one row per number prefix (``C`` + local date)."""
from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class CaseNumberCounter(Base):
    """The last sequence number given out under ``prefix``.

    Incremented with one ``UPDATE``/upsert inside the intake transaction: the row lock makes
    concurrent intakes take turns, so two cases can never draw the same number (``max + 1`` of
    the case table could, and then ran out of retries under load).
    """

    __tablename__ = "case_number_counter"
    prefix: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)
