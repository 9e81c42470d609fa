"""Arm and cancel deadline rows as items enter and leave states (same transaction)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, tuple_, update
from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.models import Deadline, WorkflowItem
from caseflow.workflow.definition import WorkflowDefinition

from .clock import compute_due, effective_spec
from .scheduling import schedule_deadlines


def arm_for_state(
    session: Session, definition: WorkflowDefinition, item: WorkflowItem, now: datetime, effects: Effects,
    *, pending: list[dict[str, Any]] | None = None,
) -> list[Deadline]:
    """Write a pending row per deadline the item's state declares; schedule each after commit.

    ``pending``: collect the rows' column values there instead of adding ORM objects, for the
    caller to write with :func:`insert_armed` (the transition path, right after its flush):
    the same rows without the unit of work's bookkeeping. Then nothing is returned.
    """
    declared_all = definition.states[item.state].deadlines
    if not declared_all:
        return []
    values = []
    for declared in declared_all:
        spec = effective_spec(session, declared, item)
        values.append({
            "item_type": item.item_type, "item_id": item.id, "key": spec.id, "state": item.state,
            "state_seq": item.state_seq, "clock": spec.clock, "armed_at": now,
            "due_at": compute_due(session, spec, item, now), "status": "pending",
            "on_expiry": dict(spec.on_expiry),
        })
    if pending is not None:
        pending.extend(values)
        return []
    rows = []
    for row_values in values:
        row = Deadline(**row_values)
        session.add(row)
        rows.append(row)
    for row in rows:
        # No flush here: the row gets its id in the transition's one flush, and the effect
        # reads it after commit (sessions keep attributes on commit), saving a round trip.
        effects.add_to_batch("schedule deadlines", _schedule_rows, row)
    return rows


def insert_armed(session: Session, values: list[dict[str, Any]], effects: Effects) -> None:
    """Write rows collected by :func:`arm_for_state` (``pending``) in one Core INSERT and
    schedule each after commit, as arming them through the session would."""
    if not values:
        return
    # Like the ORM, a None value leaves the column to its default (none is None today).
    params = [{k: v for k, v in row.items() if v is not None} for row in values]
    # On the session's connection: no autoflush (nothing pending is read), no ORM preparation.
    conn = session.connection()
    if len(params) == 1 or all(p.keys() == params[0].keys() for p in params):
        ids = conn.execute(_INSERT_RETURNING_ID, params).scalars().all()
    else:  # pragma: no cover - rows of different shapes: one INSERT each
        ids = [conn.execute(_INSERT_RETURNING_ID, p).scalar_one() for p in params]
    for deadline_id, row in zip(ids, values):
        effects.add_to_batch("schedule deadlines", _schedule_rows, (deadline_id, row["due_at"]))


def _schedule_rows(rows: list[Deadline | tuple[int, datetime]]) -> None:
    # ORM rows (their ids assigned by the flush) and (id, due_at) pairs of rows inserted at once.
    schedule_deadlines([(row.id, row.due_at) if isinstance(row, Deadline) else row for row in rows])


def cancel_for_state(session: Session, item: WorkflowItem, state: str, state_seq: int, now: datetime) -> int:
    """Cancel the pending or paused rows armed by the item's visit to ``state``.

    Inside :func:`deferred_cancels` the visit is only noted (returns 0), for one UPDATE later.
    """
    deferred = session.info.get(_DEFERRED)
    if deferred is not None:
        deferred.append((item.item_type, item.id, state, state_seq))
        return 0
    result = session.execute(_CANCEL_VISIT, {"c_item_type": item.item_type, "c_item_id": item.id, "c_state": state,
                                             "c_state_seq": state_seq, "c_now": now})
    return result.rowcount or 0  # type: ignore[attr-defined]


_DEFERRED = "caseflow.deferred_cancels"

# Run on most transitions, so built once, as a Core UPDATE on the table: no ORM bulk-update
# machinery, no statement or cache key built per call. Like the ORM form it replaced
# (``synchronize_session=False``) it leaves objects already loaded in the session untouched.
_DEADLINE = Deadline.__table__
# Several rows in one statement, ids returned in the order of the rows given.
_INSERT_RETURNING_ID = insert(_DEADLINE).returning(_DEADLINE.c.id, sort_by_parameter_order=True)
_CANCEL_VISIT = (
    update(_DEADLINE)
    .where(
        _DEADLINE.c.item_type == bindparam("c_item_type"), _DEADLINE.c.item_id == bindparam("c_item_id"),
        _DEADLINE.c.state == bindparam("c_state"), _DEADLINE.c.state_seq == bindparam("c_state_seq"),
        _DEADLINE.c.status.in_(("pending", "paused")),
    )
    .values(status="cancelled", cancelled_at=bindparam("c_now", type_=_DEADLINE.c.cancelled_at.type))
)


@contextmanager
def deferred_cancels(session: Session, now: datetime) -> Iterator[None]:
    """Collect the block's deadline cancellations and run them as one UPDATE at its end.

    For a caller moving many items in one transaction (batch firing): one statement instead
    of one per item. The rows concerned belong to state visits being left, so nothing in the
    block reads them in between.
    """
    if session.info.get(_DEFERRED) is not None:
        yield  # already collecting: the outer block runs them
        return
    visits: list[tuple[str, int, str, int]] = []
    session.info[_DEFERRED] = visits
    try:
        yield
    finally:
        del session.info[_DEFERRED]
    if visits:
        session.execute(
            update(Deadline)
            .where(tuple_(Deadline.item_type, Deadline.item_id, Deadline.state, Deadline.state_seq).in_(visits),
                   Deadline.status.in_(("pending", "paused")))
            .values(status="cancelled", cancelled_at=now)
            .execution_options(synchronize_session=False)
        )
