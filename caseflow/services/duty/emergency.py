"""Emergency mode (平急转换): declared with a reason and scope, ended with a summary, every switch
ledgered on the center (ledger item ``center``/<id>: the mode belongs to the center, not to any
workflow item). While active: staffing minimum raised, a leader on shift required, escalation
chains use their ``emergency_steps`` (via :func:`caseflow.deadlines.emergency.emergency_active`), chains
already running included (:mod:`caseflow.deadlines.emergency_switch`); ending it leaves running
chains on the steps they have."""
from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.errors import Conflict, NotFound, ValidationFailed
from caseflow.models import Center, EmergencyPeriod, utcnow
from caseflow.models.duty import EMERGENCY_KINDS
from caseflow.security.actor import Actor
from caseflow.services import ledger
from caseflow.services.unit_of_work import transaction
from caseflow.workflow.engine import WorkflowCatalog, get_catalog

from .common import require_role

log = logging.getLogger(__name__)

DECLARE_ROLES = ("leader", "duty_lead", "admin")


def active_period(session: Session, center_id: int) -> EmergencyPeriod | None:
    """The center's emergency period in force, if any."""
    return session.execute(
        select(EmergencyPeriod).where(EmergencyPeriod.center_id == center_id, EmergencyPeriod.ended_at.is_(None))
        .order_by(EmergencyPeriod.id.desc()).limit(1)
    ).scalar_one_or_none()


def _lock_center(session: Session, center_id: int) -> Center:
    center = session.execute(
        select(Center).where(Center.id == center_id).with_for_update()
    ).scalar_one_or_none()
    if center is None:
        raise ValidationFailed(f"center {center_id} does not exist", field="center_id")
    return center


def declare(session: Session, center_id: int, kind: str, reason: str, scope: str, *, actor: Actor,
            catalog: WorkflowCatalog | None = None) -> EmergencyPeriod:
    """Switch the center to emergency mode; warns the leaders of the shifts now understaffed. Commits.

    After the commit, escalation chains already running for the center's items switch to their
    emergency variants (:mod:`caseflow.deadlines.emergency_switch`; the sweeper repeats this, so
    a chain that starts while this commits, or a switch that fails here, is caught next sweep).
    """
    role = require_role(actor, DECLARE_ROLES, "declaring emergency mode")
    if kind not in EMERGENCY_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(EMERGENCY_KINDS)}", field="kind")
    if not (reason or "").strip():
        raise ValidationFailed("reason is required", field="reason")
    if not (scope or "").strip():
        raise ValidationFailed("scope is required", field="scope")
    with transaction(session) as effects:
        _lock_center(session, center_id)
        current = active_period(session, center_id)
        if current is not None:
            raise Conflict(f"center {center_id} is already in emergency mode (period {current.id})",
                           details={"period_id": current.id})
        now = utcnow()
        period = EmergencyPeriod(center_id=center_id, kind=kind, reason=reason.strip(), scope=scope.strip(),
                                 started_at=now, started_by_id=actor.person_id)
        session.add(period)
        session.flush()
        ledger.append(session, item_type="center", item_id=center_id, trigger="declare_emergency", actor=actor,
                      role=role, at=now, from_state="normal", to_state="emergency",
                      payload={"period_id": period.id, "kind": kind, "reason": period.reason, "scope": period.scope})
        from .rota import warn_gaps  # rota imports this module

        warn_gaps(session, center_id, 1, now, effects=effects, commit=False)
    _switch_chains(session, catalog, center_id)
    return period


def _switch_chains(session: Session, catalog: WorkflowCatalog | None, center_id: int) -> None:
    """Running chains of the center take their emergency steps (best effort: the sweeper retries)."""
    from caseflow.deadlines.emergency_switch import switch_running_chains

    try:
        switch_running_chains(session, catalog or get_catalog(), center_id)
    except Exception:  # the declaration stands; the next sweep switches what is left
        session.rollback()
        log.exception("emergency mode of center %s: running chains not switched yet", center_id)


def end(session: Session, period_id: int, summary: str, *, actor: Actor) -> EmergencyPeriod:
    """Switch back to normal mode; the summary is required. Commits."""
    role = require_role(actor, DECLARE_ROLES, "ending emergency mode")
    if not (summary or "").strip():
        raise ValidationFailed("summary is required to end emergency mode", field="summary")
    with transaction(session):
        period = session.get(EmergencyPeriod, period_id)
        if period is None:
            raise NotFound(f"emergency period {period_id} not found")
        _lock_center(session, period.center_id)
        session.refresh(period)
        if period.ended_at is not None:
            raise Conflict(f"emergency period {period_id} has already ended", details={"ended_at": period.ended_at.isoformat()})
        now = utcnow()
        period.ended_at = now
        period.ended_by_id = actor.person_id
        period.summary = summary.strip()
        ledger.append(session, item_type="center", item_id=period.center_id, trigger="end_emergency", actor=actor,
                      role=role, at=now, from_state="emergency", to_state="normal",
                      payload={"period_id": period.id, "summary": period.summary})
    return period
