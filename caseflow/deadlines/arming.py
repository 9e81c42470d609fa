"""Arm and cancel deadline rows as items enter and leave states (same transaction)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import bindparam, tuple_, update
from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.models import Deadline, WorkflowItem
from caseflow.workflow.definition import WorkflowDefinition

from .clock import compute_due, effective_spec
from .scheduling import schedule_deadlines


def arm_for_state(
    session: Session, definition: WorkflowDefinition, item: WorkflowItem, now: datetime, effects: Effects
) -> list[Deadline]:
    """Write a pending row per deadline the item's state declares; schedule each after commit."""
    rows = []
    for declared in definition.states[item.state].deadlines:
        spec = effective_spec(session, declared, item)
        row = Deadline(
            item_type=item.item_type, item_id=item.id, key=spec.id, state=item.state,
            state_seq=item.state_seq, clock=spec.clock, armed_at=now,
            due_at=compute_due(session, spec, item, now), status="pending",
            on_expiry=dict(spec.on_expiry),
        )
        session.add(row)
        rows.append(row)
    for row in rows:
        # No flush here: the row gets its id in the transition's one flush, and the effect
        # reads it after commit (sessions keep attributes on commit), saving a round trip.
        effects.add_to_batch("schedule deadlines", _schedule_rows, row)
    return rows


def _schedule_rows(rows: list[Deadline]) -> None:
    schedule_deadlines([(row.id, row.due_at) for row in rows])


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
