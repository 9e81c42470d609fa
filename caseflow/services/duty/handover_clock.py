"""When the 08:30 handover is due, armed on the shift itself so it is due whether or not anyone
opens the handover.

The ``duty_shift`` workflow's ``on_duty`` state declares a ``handover`` deadline whose expiry
starts the ``late_handover`` escalation (to the shift lead, the leader on shift and the center's
leaders). Its due time is a wall-clock instant, the shift's end (08:30) plus
``HANDOVER_GRACE_MIN``, not a duration from the moment the shift went on duty: the hook below
(:data:`caseflow.deadlines.clock.DURATION_HOOKS`) turns it into the duration the deadline engine
arms, whichever path starts the shift (a completed handover, the items API, the demo).

Opening the handover moves the shift to ``handing_over``, which cancels this deadline; the
handover's own ``complete`` deadline, pinned to the same instant, takes over from there.

:func:`arm_missing` is the sweeper's safety net for shifts already on duty before the deadline
existed (or armed by a definition without it): each gets its row once.
"""
from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from caseflow.deadlines.clock import DURATION_HOOKS
from caseflow.deadlines.scheduling import schedule_deadline
from caseflow.effects import Effects
from caseflow.models import Deadline, DutyShift, utcnow
from caseflow.workflow.definition import DeadlineSpec
from caseflow.workflow.engine import WorkflowCatalog

from .settings import int_setting

log = logging.getLogger(__name__)

#: The deadline id the ``on_duty`` state of ``duty_shift`` declares.
SHIFT_DEADLINE = "handover"


def handover_due(shift: DutyShift) -> datetime:
    """When the handover of ``shift`` must be complete: its end (08:30) plus the grace period."""
    return shift.ends_at + timedelta(minutes=int_setting("HANDOVER_GRACE_MIN"))


def shift_duration_hook(session: Session, spec: DeadlineSpec, item: object) -> tuple[str, str] | None:
    """The ``handover`` deadline of a shift as the wall-clock seconds from the state entry to
    :func:`handover_due` (rounded up: never early; 0 for a shift started after it)."""
    if spec.id != SHIFT_DEADLINE or not isinstance(item, DutyShift) or item.ends_at is None:
        return None
    entered = item.state_entered_at or utcnow()  # the engine sets it to the arming instant first
    seconds = max(0, math.ceil((handover_due(item) - entered).total_seconds()))
    return str(seconds), "wall"


DURATION_HOOKS["duty_shift"] = shift_duration_hook


def _declared(catalog: WorkflowCatalog, shift: DutyShift) -> DeadlineSpec | None:
    try:
        definition = catalog.definition(shift.workflow, shift.workflow_version)
    except KeyError:
        return None
    state = definition.states.get(shift.state)
    return next((d for d in state.deadlines if d.id == SHIFT_DEADLINE), None) if state else None


def arm_missing(session: Session, catalog: WorkflowCatalog, now: datetime | None = None) -> int:
    """Arm the ``handover`` deadline of every shift on duty that has none for its current state
    visit (shifts that went on duty before the deadline was declared). Idempotent; one
    transaction per shift; returns how many were armed."""
    from caseflow.services import transition  # transition imports the deadline engine

    now = now or utcnow()
    has_row = exists().where(and_(
        Deadline.item_type == "duty_shift", Deadline.item_id == DutyShift.id, Deadline.key == SHIFT_DEADLINE,
        Deadline.state_seq == DutyShift.state_seq))
    ids = list(session.execute(select(DutyShift.id).where(DutyShift.state == "on_duty", ~has_row)).scalars())
    session.rollback()  # read only; each shift gets its own transaction below
    armed = 0
    for shift_id in ids:
        effects = Effects()
        try:
            shift: Any = transition.lock_item(session, "duty_shift", shift_id)
            spec = _declared(catalog, shift)
            again = session.execute(select(Deadline.id).where(
                Deadline.item_type == "duty_shift", Deadline.item_id == shift.id, Deadline.key == SHIFT_DEADLINE,
                Deadline.state_seq == shift.state_seq)).first()
            if shift.state != "on_duty" or spec is None or again is not None:
                session.rollback()
                continue
            row = Deadline(item_type="duty_shift", item_id=shift.id, key=SHIFT_DEADLINE, state=shift.state,
                           state_seq=shift.state_seq, clock="wall", armed_at=now, due_at=handover_due(shift),
                           status="pending", on_expiry=dict(spec.on_expiry))
            session.add(row)
            session.flush()
            effects.add("schedule handover deadline", schedule_deadline, row.id, row.due_at)
            session.commit()
        except Exception:
            session.rollback()
            effects.discard()
            log.exception("could not arm the handover deadline of shift %s", shift_id)
            continue
        effects.dispatch()
        armed += 1
    return armed
