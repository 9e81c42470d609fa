"""Switch escalation chains already running to their emergency variants when a center goes into
emergency mode (平急转换).

A run copies its steps when it starts (:func:`caseflow.deadlines.escalation.start_chain`), so
without this a chain started a minute before the emergency keeps its normal, slower steps.
Switching keeps what has been done: the rounds already sent count towards the emergency
variant, and the run continues at the emergency round with the same ordinal, timed from the
last round sent with the emergency delay (but never later than the next round was due
anyway). A run that has already sent as many rounds as the emergency variant has gets that
variant's last round once more, then ends: everyone the emergency chain names hears of it
under emergency rules at least once.

Only the chain's own definition decides: a chain without ``emergency_steps`` is left alone, and
so is a run already in emergency mode. Ending emergency mode does not switch runs back (see
README: the matter was escalated under emergency rules and those chains are short).

Each switch is one transaction under the item's row lock, then the run's (lock order
item -> run, as everywhere), ledgered on the item as ``emergency_steps:<chain>``; the next
round's job is re-scheduled after commit. :func:`switch_running_chains` runs right after
emergency mode is declared and on every sweep (which catches a chain that started, in normal
mode, while the declaration was committing, and covers the ``EMERGENCY_MODE`` setting).
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.models import ITEM_MODELS, EmergencyPeriod, EscalationRun, utcnow
from caseflow.security.actor import Actor
from caseflow.services import ledger
from caseflow.services.unit_of_work import transaction
from caseflow.workflow.engine import WorkflowCatalog

from .emergency import emergency_active
from .escalation import copy_steps, round_number, schedule_round
from .item_centers import centers_of
from .targets import item_center_id

log = logging.getLogger(__name__)


def _rounds(steps: list[dict[str, Any]]) -> int:
    return sum(1 + int(s.get("repeat", 0)) for s in steps)


def _position(steps: list[dict[str, Any]], ordinal: int) -> tuple[int, int]:
    """(step index, repeat index) of the round with 0-based ``ordinal`` across ``steps``."""
    for index, step in enumerate(steps):
        rounds = 1 + int(step.get("repeat", 0))
        if ordinal < rounds:
            return index, ordinal
        ordinal -= rounds
    raise IndexError("ordinal beyond the last round")


def _delay(steps: list[dict[str, Any]], step_index: int, repeat_index: int) -> int:
    """Seconds between the previous round (or the chain start) and this round."""
    step = steps[step_index]
    return int(step.get("every_s", step.get("after_s", 0))) if repeat_index else int(step.get("after_s", 0))


def is_emergency_run(run: EscalationRun) -> bool:
    """True when the run already follows emergency steps."""
    return bool(run.steps) and all(s.get("mode") == "emergency" for s in run.steps)


def switched_position(run: EscalationRun, emergency: list[dict[str, Any]], now: datetime) -> tuple[int, int, datetime]:
    """Where a normal run continues on ``emergency`` steps: (step index, repeat index, next round)."""
    sent = round_number(run)  # the run's indexes point at its next round: that many were sent
    ordinal = min(sent, _rounds(emergency) - 1)
    step_index, repeat_index = _position(emergency, ordinal)
    # The last round went out at next_at minus the delay that led to the next round.
    planned = run.next_at or now
    anchor = planned - timedelta(seconds=_delay(run.steps, run.step_index, run.repeat_index))
    if sent >= _rounds(emergency):
        delay = int(emergency[step_index].get("every_s") or emergency[step_index].get("after_s", 0))
    else:
        delay = _delay(emergency, step_index, repeat_index)
    # Never later than the normal chain would have sent it; a round already due goes now.
    next_at = max(min(anchor + timedelta(seconds=delay), planned), now)
    return step_index, repeat_index, next_at


def switch_run(session: Session, catalog: WorkflowCatalog, run_id: int) -> bool:
    """Switch one active normal-mode run to its chain's emergency steps if its item's center is in
    emergency mode now; commits. Returns whether it switched."""
    from caseflow.services import transition  # transition imports the deadline engine

    with transaction(session) as effects:
        ref = session.execute(select(EscalationRun.item_type, EscalationRun.item_id)
                              .where(EscalationRun.id == run_id)).first()
        if ref is None:
            session.rollback()
            return False
        item = transition.lock_item(session, ref.item_type, ref.item_id)
        run = session.execute(select(EscalationRun).where(EscalationRun.id == run_id).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one()
        if run.status != "active" or is_emergency_run(run) or run.next_at is None:
            session.rollback()
            return False
        if item.state != run.state or item.state_seq != run.state_seq:
            session.rollback()  # the chain is over; its next round stops it
            return False
        try:
            spec = catalog.definition(item.workflow, item.workflow_version).escalations[run.chain]
        except KeyError:
            session.rollback()
            return False
        if not spec.emergency_steps or not emergency_active(session, item_center_id(session, item)):
            session.rollback()
            return False
        now = utcnow()
        emergency = copy_steps(spec.emergency_steps, "emergency")
        before = {"step": run.step_index, "repeat": run.repeat_index, "next_at": run.next_at.isoformat(),
                  "rounds_sent": round_number(run)}
        step_index, repeat_index, next_at = switched_position(run, emergency, now)
        run.steps = emergency
        run.step_index, run.repeat_index, run.next_at = step_index, repeat_index, next_at
        ledger.append(
            session, item_type=item.item_type, item_id=item.id, trigger=f"emergency_steps:{run.chain}"[:40],
            actor=Actor.system("emergency"), role="system", at=now, from_state=item.state, to_state=item.state,
            workflow=item.workflow, workflow_version=item.workflow_version,
            payload={"run_id": run.id, "chain": run.chain, "from": "normal", "to": "emergency", "before": before,
                     "step": step_index, "repeat": repeat_index, "next_at": next_at.isoformat()},
            item=item,
        )
        effects.add(f"schedule escalation {run.id}", schedule_round, run.id, round_number(run), next_at)
    return True


def _setting_on() -> bool:
    value = current_app.config.get("EMERGENCY_MODE") if has_app_context() else None
    return value not in (None, False, "", "0", "false", "no", "off", "none")


def candidate_runs(session: Session, center_id: int | None = None) -> list[int]:
    """Active normal-mode runs whose item belongs to ``center_id`` (any center when None) and whose
    center is in emergency mode now. Read only; one query per item type and center, whatever
    the number of runs."""
    if not _setting_on() and session.execute(
            select(EmergencyPeriod.id).where(EmergencyPeriod.ended_at.is_(None)).limit(1)).first() is None:
        return []  # the common case: nobody is in emergency mode, one query
    rows = session.execute(select(EscalationRun.id, EscalationRun.item_type, EscalationRun.item_id,
                                  EscalationRun.steps).where(EscalationRun.status == "active")
                           .order_by(EscalationRun.id)).all()
    by_type: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for run_id, item_type, item_id, steps in rows:
        if steps and not all(s.get("mode") == "emergency" for s in steps):
            by_type[item_type].append((run_id, item_id))
    found: list[int] = []
    active: dict[int | None, bool] = {}
    for item_type, pairs in by_type.items():
        model = ITEM_MODELS.get(item_type)
        if model is None:
            continue
        placed = centers_of(session, model, {item_id for _, item_id in pairs})
        for run_id, item_id in pairs:
            if item_id not in placed:
                continue  # the item is gone
            cid = placed[item_id]
            if center_id is not None and cid != center_id:
                continue
            if cid not in active:
                active[cid] = emergency_active(session, cid)
            if active[cid]:
                found.append(run_id)
    return found


def switch_running_chains(session: Session, catalog: WorkflowCatalog, center_id: int | None = None,
                          now: datetime | None = None) -> int:
    """Switch every running normal-mode chain of ``center_id`` (all centers when None) that is in
    emergency mode to its emergency steps; one transaction per run. Returns how many switched.
    ``now`` is accepted for the sweeper's step signature; each switch reads the clock itself."""
    ids = candidate_runs(session, center_id)
    session.rollback()  # end the read; each switch takes its own transaction
    switched = 0
    for run_id in ids:
        try:
            switched += switch_run(session, catalog, run_id)
        except Exception:  # one bad run must not keep the others on their normal steps
            log.exception("could not switch escalation run %s to its emergency steps", run_id)
    return switched
