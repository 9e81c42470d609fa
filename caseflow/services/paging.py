"""One page of a query: the rows, and the total the query matches (for lists that grow)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select


@dataclass(frozen=True)
class Page:
    """One page of a list: the rows, the total matching, the page number (from 1) and size."""

    items: list[Any]
    total: int
    page: int
    per_page: int


def paged(session: Session, query: Select[Any], page: int = 1, per_page: int = 50) -> Page:
    """Page ``page`` of ``query`` (ordered by the caller: ties broken by id, or pages overlap) and the
    number of rows it matches. One count and one page query, whatever the page size."""
    page, per_page = max(1, page), max(1, per_page)
    total = session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = list(session.execute(query.offset((page - 1) * per_page).limit(per_page)).scalars())
    return Page(rows, total, page, per_page)
