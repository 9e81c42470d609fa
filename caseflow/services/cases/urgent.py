"""Urgent cases (紧急类) are commanded at once: tell the people who command them, now."""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.models import Case, Department, Person

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
