"""Tier change (改变案件分级): an explicit re-start of the case on the new tier's workflow.

A case records the workflow and version it started on (``data['started_on']``). Changing the
tier keeps that record and appends to ``data['tier_history']``; the ledger shows a
``change_tier`` entry on the old workflow followed by a ``restart`` entry on the new one.
Running deadlines are cancelled and the new workflow's initial state arms its own; the
departments' parts are withdrawn (the new tier dispatches afresh), except that a simple case
stays with (or goes to) the department that handles it on the spot.
"""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.models import Case, CaseParticipant, Deadline, utcnow
from caseflow.security.actor import Actor
from caseflow.services import ledger, transition
from caseflow.services.active_records import active_responsible
from caseflow.workflow.case_actions import SERVICE_MARKER, SERVICE_TOKEN
from caseflow.workflow.engine import WorkflowCatalog

from .common import get_case
from .guard import commit_or_rollback, ensure_writable
from .intake import workflow_for


def change_tier(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, tier: str, reason: str,
                comment: str = "") -> Case:
    """Move a case to ``tier`` (dispatcher, with a reason) and commit; returns the re-started case."""
    effects = Effects()
    with commit_or_rollback(session, effects):
        ensure_writable(get_case(session, case_id))
        case = transition.apply(session, catalog, "case", case_id, "change_tier", actor=actor, comment=comment,
                                data={"tier": tier, "reason": reason, SERVICE_MARKER: SERVICE_TOKEN},
                                effects=effects)
        _restart(session, catalog, case, tier, reason, actor, effects)  # type: ignore[arg-type]
    return case  # type: ignore[return-value]


def _restart(session: Session, catalog: WorkflowCatalog, case: Case, tier: str, reason: str, actor: Actor,
             effects: Effects) -> None:
    now = utcnow()
    cancelled = session.execute(
        update(Deadline).where(Deadline.item_type == "case", Deadline.item_id == case.id,
                               Deadline.status.in_(("pending", "paused")))
        .values(status="cancelled", cancelled_at=now).execution_options(synchronize_session=False)
    ).rowcount or 0
    session.execute(
        update(CaseParticipant).where(CaseParticipant.case_id == case.id, CaseParticipant.state != "withdrawn")
        .values(state="withdrawn").execution_options(synchronize_session=False)
    )
    old = {"tier": case.tier, "workflow": case.workflow, "version": case.workflow_version, "state": case.state}
    definition = catalog.latest(workflow_for(tier))
    case.tier = tier
    case.workflow, case.workflow_version = definition.name, definition.version
    case.state = definition.initial
    if tier == "simple":
        if case.department_id is None and case.category is not None:
            dept = active_responsible(case.category, "tier")  # never hand it to a deactivated department
            case.department_id = dept.id if dept is not None else None
    else:
        case.department_id = None
    data = dict(case.data or {})
    data.pop("pending_request", None)
    data["deferred"] = False
    data["tier_history"] = list(data.get("tier_history") or []) + [{
        "from": old, "to": {"tier": tier, "workflow": definition.name, "version": definition.version},
        "reason": reason, "by": actor.person_id, "at": now.isoformat(),
    }]
    case.data = data
    transition.enter_state(session, definition, case, None, now, effects)
    ledger.append(
        session, item_type="case", item_id=case.id, trigger="restart", actor=actor, role="dispatcher", at=now,
        from_state=old["state"], to_state=case.state, workflow=definition.name,
        workflow_version=definition.version, comment=reason,
        payload={"tier": tier, "previous": old, "deadlines_cancelled": cancelled},
    )
    session.flush()
