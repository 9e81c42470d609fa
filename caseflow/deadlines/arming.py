"""Arm and cancel deadline rows as items enter and leave states (same transaction)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.models import Deadline, WorkflowItem
from caseflow.workflow.definition import WorkflowDefinition

from .clock import compute_due, effective_spec
from .scheduling import schedule_deadline


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
    if rows:
        session.flush()
        for row in rows:
            effects.add(f"schedule deadline {row.key}", schedule_deadline, row.id, row.due_at)
    return rows


def cancel_for_state(session: Session, item: WorkflowItem, state: str, state_seq: int, now: datetime) -> int:
    """Cancel the pending or paused rows armed by the item's visit to ``state``."""
    result = session.execute(
        update(Deadline)
        .where(
            Deadline.item_type == item.item_type, Deadline.item_id == item.id,
            Deadline.state == state, Deadline.state_seq == state_seq,
            Deadline.status.in_(("pending", "paused")),
        )
        .values(status="cancelled", cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
