"""Urgent cases (紧急类) are commanded at once: tell the people who command them, now.

A case is urgent from its report (``intake.report(urgent=True)``) or when a dispatcher marks it
so later (:func:`set_urgent`, ledgered).
"""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.errors import InvalidTransition, ValidationFailed
from caseflow.models import Case, Department, Person, utcnow
from caseflow.security.actor import Actor
from caseflow.services import ledger, transition
from caseflow.services.access import deny
from caseflow.workflow.engine import WorkflowCatalog

from .guard import commit_or_rollback, ensure_writable

log = logging.getLogger(__name__)

# Who hears of an urgent case the moment it arrives (escalation target names).
URGENT_TARGETS = ("dispatcher", "deputy_leader_in_charge")


def command_urgent(session: Session, case: Case, effects: Effects) -> int:
    """Queue outbox messages for an urgent case in the caller's transaction; returns how many.

    Recipients: the center's dispatchers, the deputy leader in charge of the category's
    field and the head of the responsible department. Delivery runs after commit.
    """
    try:
        from caseflow.deadlines.escalation import person_addresses
        from caseflow.deadlines.targets import resolve_targets
        from caseflow.notify.outbox import queue_notification
    except ImportError:  # notification layer absent: the flag and ledger still show it
        return 0
    people: dict[int, Person] = {}
    for target in URGENT_TARGETS:
        for person in resolve_targets(session, case, target):
            people[person.id] = person
    dept_id = case.department_id or (case.category.responsible_department_id if case.category else None)
    if dept_id:
        dept = session.get(Department, dept_id)
        if dept is not None and dept.head_id:
            head = session.get(Person, dept.head_id)
            if head is not None and head.active:
                people[head.id] = head
    count = 0
    subject = f"【紧急】{case.number} {case.title}"
    body = f"紧急案件，请立即按应急预案指挥处置：{case.title}\n地址：{case.address or '-'}\n{case.description}"
    for person in people.values():
        for channel, address in person_addresses(person):
            queue_notification(session, channel=channel, address=address, person_id=person.id,
                               item_type="case", item_id=case.id, subject=subject, body=body,
                               payload={"case_id": case.id, "urgent": True}, effects=effects)
            count += 1
    return count


# -- marking an existing case urgent ----------------------------------------------------------
# A report that arrived without the flag (a hotline operator, a sensor) is often recognised as
# urgent by the dispatcher at review or registration. The flag is no workflow transition (the
# state stays), but it is ledgered like one: a ``set_urgent`` entry with the reason.

SET_ROLES = ("dispatcher",)
SET_TRIGGER = "set_urgent"
# Closed cases wait for callback and archive: nobody is commanded to them any more.
NOT_AFTER = ("closed",)


def may_set(case: Case, catalog: WorkflowCatalog) -> bool:
    """Whether the urgent flag of ``case`` may still change: it is open (not closed, archived or void)."""
    if case.read_only or case.state in NOT_AFTER:
        return False
    spec = catalog.definition(case.workflow, case.workflow_version).states.get(case.state)
    return spec is not None and not spec.final


def set_urgent(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, urgent: bool = True,
               reason: str = "", comment: str = "") -> Case:
    """Mark a case urgent (紧急, ``urgent=True``) or take the flag off, and commit (dispatchers only).

    Marking it commands the case at once: the same people an urgent report tells are notified
    through the outbox (delivery after commit). Taking the flag off needs a reason. The change
    is a ``set_urgent`` ledger entry (old and new value, reason, how many notices were queued);
    the state does not change. Sending the value the case already has changes and writes nothing,
    so a double submit is harmless.

    Raises ``ValidationFailed`` (reason missing when clearing, or too long; naming ``reason``),
    ``NotFound``, ``PermissionDenied`` (not a dispatcher; audited), ``InvalidTransition`` (the
    case is closed, archived or void).
    """
    reason = (reason or "").strip()
    if len(reason) > 2000:
        raise ValidationFailed("reason is longer than 2000 characters", field="reason")
    effects = Effects()
    with commit_or_rollback(session, effects):
        case: Case = transition.lock_item(session, "case", case_id)  # type: ignore[assignment]
        ensure_writable(case)
        role = next((r for r in SET_ROLES if r in actor.roles), None)
        if role is None:
            raise deny(actor, SET_TRIGGER, f"case {case_id}", "only dispatchers mark cases urgent")
        if not may_set(case, catalog):
            raise InvalidTransition(f"case {case.number} is '{case.state}': the urgent flag changes only while it "
                                    "is open", details={"state": case.state})
        urgent = bool(urgent)
        if case.urgent == urgent:
            return case
        if not urgent and not reason:
            raise ValidationFailed("say why the case is no longer urgent", field="reason")
        case.urgent = urgent
        notified = command_urgent(session, case, effects) if urgent else 0
        now = utcnow()
        ledger.append(
            session, item_type="case", item_id=case.id, trigger=SET_TRIGGER, actor=actor, role=role, at=now,
            from_state=case.state, to_state=case.state, workflow=case.workflow,
            workflow_version=case.workflow_version, comment=comment or reason,
            payload={"urgent": urgent, "before": not urgent, "reason": reason or None, "notified": notified},
            item=case,
        )
        case.updated_at = now
    return case
