"""Pause and resume an item's running time limits (deferral 缓办, a pending return request 退单).

A paused row keeps the time it had left in ``remaining_s`` (working seconds on the working
clock, plain seconds on the wall clock); resuming re-arms it from now with that time and
re-schedules its job (the job id is per row, so the old alarm is replaced; an alarm that
still rings finds the row paused or moved and does nothing).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.models import Deadline

from .clock import item_calendar
from .scheduling import schedule_deadline


def current_rows(session: Session, item: Any, statuses: tuple[str, ...]) -> list[Deadline]:
    """The item's rows of its current state visit with one of ``statuses``, locked, oldest first."""
    return list(session.execute(
        select(Deadline).where(
            Deadline.item_type == item.item_type, Deadline.item_id == item.id, Deadline.state == item.state,
            Deadline.state_seq == item.state_seq, Deadline.status.in_(statuses),
        ).order_by(Deadline.id).with_for_update()
    ).scalars())


def pause_running(session: Session, item: Any, now: datetime) -> list[dict[str, Any]]:
    """Pause the pending rows of the item's current state visit; returns what was paused."""
    cal = item_calendar(session, item)
    paused = []
    for row in current_rows(session, item, ("pending",)):
        left = cal.working_between(now, row.due_at) if row.clock == "working" else row.due_at - now
        row.remaining_s = max(left.total_seconds(), 0.0)
        row.status = "paused"
        paused.append({"deadline_id": row.id, "key": row.key, "remaining_s": row.remaining_s})
    return paused


def resume_paused(session: Session, item: Any, now: datetime, effects: Effects,
                  only: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Re-arm the paused rows of the item's current state visit (``only`` these ids, if given)."""
    wanted = set(only) if only is not None else None
    cal = item_calendar(session, item)
    resumed = []
    for row in current_rows(session, item, ("paused",)):
        if wanted is not None and row.id not in wanted:
            continue
        left = timedelta(seconds=row.remaining_s or 0.0)
        row.due_at = cal.add_working(now, left) if row.clock == "working" else now + left
        row.status, row.remaining_s = "pending", None
        resumed.append({"deadline_id": row.id, "key": row.key, "due_at": row.due_at.isoformat()})
        effects.add(f"reschedule deadline {row.key}", schedule_deadline, row.id, row.due_at)
    return resumed
