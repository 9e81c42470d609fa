"""Fire a deadline: idempotent, never early, only while the item is still where it was armed."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from caseflow.models import Deadline, utcnow
from caseflow.observability.metrics import observe_deadline_lag
from caseflow.security.actor import Actor
from caseflow.services import ledger, transition
from caseflow.services.unit_of_work import transaction
from caseflow.workflow.engine import WorkflowCatalog

log = logging.getLogger(__name__)

SETTLED = ("fired", "cancelled")


@dataclass(frozen=True)
class FireOutcome:
    """What a firing attempt did: ``fired``, ``early`` (retry later), or why it was a no-op."""

    result: str
    deadline_id: int
    seconds_early: float = 0.0


def fire_deadline(session: Session, catalog: WorkflowCatalog, deadline_id: int) -> FireOutcome:
    """Expire one deadline in one transaction, then run its effects after commit.

    Locks the row; does nothing unless it is still pending, due, and the item is in the
    same state visit (``state_seq``) that armed it. Firing twice is therefore harmless.
    """
    with transaction(session) as effects:
        ref = session.execute(
            select(Deadline.item_type, Deadline.item_id, Deadline.status).where(Deadline.id == deadline_id)
        ).first()
        if ref is None:
            session.rollback()
            return FireOutcome("missing", deadline_id)
        if ref.status in SETTLED:
            # Final states never change back, so no lock is needed to know there is nothing
            # to do (the common case for a job whose row a batch or the sweeper fired).
            session.rollback()
            return FireOutcome(f"already {ref.status}", deadline_id)
        # Lock order item -> deadline, as transitions do, so the two never deadlock.
        item = transition.lock_item(session, ref.item_type, ref.item_id)
        now = utcnow()
        # The common case in one statement: claim the row only if it is still pending, due,
        # and armed by the item's current state visit (the item lock keeps all three stable).
        row = session.execute(
            update(Deadline)
            .where(Deadline.id == deadline_id, Deadline.status == "pending", Deadline.due_at <= now,
                   Deadline.state == item.state, Deadline.state_seq == item.state_seq)
            .values(status="fired", fired_at=now, fire_attempts=Deadline.fire_attempts + 1)
            .returning(Deadline)
            .execution_options(populate_existing=True, synchronize_session=False)
        ).scalar_one_or_none()
        if row is None:
            return _not_fired(session, deadline_id, now)
        ledger.append(
            session, item_type=item.item_type, item_id=item.id, trigger=f"deadline:{row.key}",
            actor=Actor.system("deadline"), role="system", at=now, from_state=item.state,
            to_state=item.state, workflow=item.workflow, workflow_version=item.workflow_version,
            payload={"deadline_id": row.id, "due_at": row.due_at.isoformat(),
                     "lag_s": round((now - row.due_at).total_seconds(), 3)},
            item=item,
        )
        trig = (row.on_expiry or {}).get("trigger")
        if trig:
            item = transition.apply(
                session, catalog, row.item_type, row.item_id, trig, actor=Actor.system("deadline"),
                data={"deadline": row.key}, comment="", effects=effects, locked=item,
            )
        chain = (row.on_expiry or {}).get("escalation")
        if chain:
            from .escalation import start_chain  # escalation imports this module's peers

            # After the trigger: the chain runs while the item stays in the state expiry put
            # it in (e.g. ``late``), and stops when it leaves that state.
            start_chain(session, catalog, item, chain, now, effects, deadline=row)
    observe_deadline_lag((now - row.due_at).total_seconds())  # after commit: only real firings
    return FireOutcome("fired", deadline_id)


def _not_fired(session: Session, deadline_id: int, now: datetime) -> FireOutcome:
    """Why a deadline could not be claimed: not pending, not yet due, or armed by a state visit
    the item has left (closed quietly: the transition should have cancelled it). Commits."""
    row = session.execute(
        select(Deadline).where(Deadline.id == deadline_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    # Read before rolling back: the rollback expires the row, and reading it after would
    # reload it and leave a transaction open.
    status, due_at = row.status, row.due_at
    if status != "pending":
        session.rollback()
        return FireOutcome(f"already {status}", deadline_id)
    if now < due_at:
        session.rollback()
        return FireOutcome("early", deadline_id, (due_at - now).total_seconds())
    row.fire_attempts += 1
    row.status = "cancelled"
    row.cancelled_at = now
    session.commit()
    return FireOutcome("stale", deadline_id)
