"""Fire many due deadlines in one transaction when they pile up (a burst, a backlog).

Every deadline still has its own RQ job; under load, though, one job's round of Redis and SQL
per deadline is what limits throughput. So a firing job that finds more rows due fires them
too, in one transaction with one flush and one commit, and then removes their now pointless
jobs from Redis. It never waits for a lock (``SKIP LOCKED`` on rows and items), so it can
neither deadlock with a transition (which locks item, then deadlines) nor stall behind one:
a deadline whose item is busy is left to its own job. The checks are those of
:func:`caseflow.deadlines.firing.fire_deadline`: still pending, due, and armed by the item's
current state visit. If anything fails the whole batch rolls back and each row's own job
fires it as usual, so a batch can only make firing earlier, never lose one.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from caseflow.deadlines.arming import deferred_cancels
from caseflow.effects import Effects
from caseflow.models import ITEM_MODELS, Deadline, WorkflowItem, utcnow
from caseflow.observability.metrics import observe_deadline_lag
from caseflow.security.actor import Actor
from caseflow.services import ledger, transition
from caseflow.workflow.engine import WorkflowCatalog

log = logging.getLogger(__name__)


@dataclass
class BatchOutcome:
    """Ids fired by a batch, and ids closed as stale (armed by a state visit already left)."""

    fired: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    lags_s: list[float] = field(default_factory=list)

    @property
    def done(self) -> list[int]:
        """Every id whose job no longer has anything to do."""
        return self.fired + self.stale


def fire_due_batch(session: Session, catalog: WorkflowCatalog, *, limit: int = 100,
                   now: datetime | None = None) -> BatchOutcome:
    """Fire up to ``limit`` due pending deadlines whose rows and items are free; commit once.

    Returns what was done; on any error rolls back and returns an empty outcome (the rows stay
    pending for their own jobs and the sweeper). Effects run after the commit.
    """
    effects = Effects()
    outcome = BatchOutcome()
    now = now or utcnow()
    try:
        rows = list(session.execute(
            select(Deadline).where(Deadline.status == "pending", Deadline.due_at <= now)
            .order_by(Deadline.due_at, Deadline.id).limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).scalars())
        if not rows:
            session.rollback()
            return outcome
        items = _lock_free_items(session, rows)
        to_fire: list[tuple[Deadline, WorkflowItem]] = []
        seen: set[tuple[str, int]] = set()
        for row in rows:
            key = (row.item_type, row.item_id)
            item = items.get(key)
            # One deadline per item per batch: a trigger may cancel the item's other rows.
            if item is None or key in seen:
                continue
            seen.add(key)
            if item.state == row.state and item.state_seq == row.state_seq:
                to_fire.append((row, item))
            else:
                outcome.stale.append(row.id)
        outcome.fired = [row.id for row, _ in to_fire]
        # Claim first, in the database, so the triggers' own deadline swap (which cancels the
        # pending rows of the state left) cannot touch the rows being fired.
        _mark(session, outcome.fired, status="fired", fired_at=now)
        _mark(session, outcome.stale, status="cancelled", cancelled_at=now)
        with session.no_autoflush, deferred_cancels(session, now):
            for row, item in to_fire:
                _expire(session, catalog, row, item, now, effects)
                outcome.lags_s.append((now - row.due_at).total_seconds())
        session.commit()
    except Exception:
        session.rollback()
        effects.discard()
        log.exception("batch firing failed; the rows are left to their own jobs")
        return BatchOutcome()
    effects.dispatch()
    for lag in outcome.lags_s:
        observe_deadline_lag(lag)
    return outcome


def _mark(session: Session, ids: list[int], **values: Any) -> None:
    if ids:
        session.execute(
            update(Deadline).where(Deadline.id.in_(ids))
            .values(fire_attempts=Deadline.fire_attempts + 1, **values)
            .execution_options(synchronize_session=False)
        )


def _lock_free_items(session: Session, rows: list[Deadline]) -> dict[tuple[str, int], WorkflowItem]:
    """Lock the rows' items that nobody else holds (each carries its ledger chain's head)."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        wanted[row.item_type].add(row.item_id)
    items: dict[tuple[str, int], WorkflowItem] = {}
    for item_type, ids in wanted.items():
        model = ITEM_MODELS.get(item_type)
        if model is None:
            continue
        locked = session.execute(
            select(model).where(model.id.in_(sorted(ids))).with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).scalars()
        for item in locked:
            items[(item_type, item.id)] = item
    return items


def _expire(session: Session, catalog: WorkflowCatalog, row: Deadline, item: WorkflowItem,
            now: datetime, effects: Effects) -> None:
    """What :func:`caseflow.deadlines.firing.fire_deadline` does once it holds the locks."""
    system = Actor.system("deadline")
    for name, value in (("status", "fired"), ("fired_at", now), ("fire_attempts", row.fire_attempts + 1)):
        set_committed_value(row, name, value)  # as _mark wrote them
    ledger.append(
        session, item_type=item.item_type, item_id=item.id, trigger=f"deadline:{row.key}",
        actor=system, role="system", at=now, from_state=item.state, to_state=item.state,
        workflow=item.workflow, workflow_version=item.workflow_version,
        payload={"deadline_id": row.id, "due_at": row.due_at.isoformat(),
                 "lag_s": round((now - row.due_at).total_seconds(), 3)},
        item=item,
    )
    on_expiry: dict[str, Any] = row.on_expiry or {}
    if on_expiry.get("trigger"):
        transition.apply(session, catalog, row.item_type, row.item_id, on_expiry["trigger"],
                         actor=system, data={"deadline": row.key}, comment="", effects=effects,
                         locked=item, flush=False)
    if on_expiry.get("escalation"):
        from .escalation import start_chain  # escalation imports this module's peers

        start_chain(session, catalog, item, on_expiry["escalation"], now, effects, deadline=row)
