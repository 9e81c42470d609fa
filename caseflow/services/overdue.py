"""Overdue work: one definition of "past its deadline" for the console and the API.

A deadline is overdue when it is past due and still concerns the item as it is now:

* pending or fired, and the item is still in the state visit that armed it (same ``state_seq``;
  a fired deadline without a trigger leaves the item where it was, and it stays overdue), or
* fired with an ``on_expiry`` trigger whose transition began the item's current visit
  (``state_seq`` one on, e.g. an instruction marked ``late`` when its arrival deadline fired):
  the item is in that state *because* it is overdue.

Any later move of the item (arrival, transfer, closing) ends the visit and with it the overdue.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from caseflow.models import ITEM_MODELS, Deadline, WorkflowItem

LIVE = ("pending", "fired")


def _live_for(model: Any, now: datetime) -> Any:
    """Deadline rows of ``model``'s items that are overdue, as a condition joining the two."""
    triggered = Deadline.on_expiry["trigger"].as_string().is_not(None)
    return and_(
        Deadline.item_id == model.id,
        Deadline.status.in_(LIVE),
        Deadline.due_at <= now,
        or_(Deadline.state_seq == model.state_seq,
            and_(Deadline.status == "fired", triggered, model.state_seq == Deadline.state_seq + 1)),
    )


def overdue_clause(now: datetime) -> Any:
    """A WHERE clause on :class:`Deadline` selecting the overdue rows (see the module docstring)."""
    return or_(*[
        and_(Deadline.item_type == item_type, exists(select(model.id).where(_live_for(model, now))))
        for item_type, model in ITEM_MODELS.items()
    ])


def overdue_deadlines(session: Session, now: datetime, limit: int = 50) -> tuple[int, list[tuple[Deadline, WorkflowItem]]]:
    """(how many, the ``limit`` most overdue as (deadline, item)) over every kind of item."""
    total = 0
    listed: list[tuple[Deadline, WorkflowItem]] = []
    for item_type, model in ITEM_MODELS.items():
        cond = and_(Deadline.item_type == item_type, _live_for(model, now))
        total += int(session.execute(select(func.count(Deadline.id)).join(model, cond)).scalar() or 0)
        listed += [(row[0], row[1]) for row in session.execute(
            select(Deadline, model).join(model, cond).order_by(Deadline.due_at, Deadline.id).limit(limit)
        )]
    listed.sort(key=lambda pair: (pair[0].due_at, pair[0].id))
    return total, listed[:limit]
