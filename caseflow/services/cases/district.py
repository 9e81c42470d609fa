"""Difficult cases at the district center (区城运中心): escalation and the coordination queues.

Escalating a difficult case (``escalate_to_district``) hands it to the district center above
the street center that held it: the case's ``center_id`` becomes the district center (so its
deadlines, escalation chains and handover follow the district's people) and the district
center's dispatchers and leaders are told through the notification outbox, after commit. The
ledger entry of the step names the center, where the case came from and who was told.

The district center's work is two queues the console shows (:data:`QUEUES`):

``escalated``  reported up and waiting for the district center to start joint handling;
``joint``      in joint handling (联合处置) led by the center, the lead department and co-operating ones.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from caseflow.effects import Effects
from caseflow.errors import ValidationFailed
from caseflow.models import Case, Center, LeaderPosition, Person, PersonRole

log = logging.getLogger(__name__)

#: Queue name -> the states of ``case_difficult`` it holds.
QUEUE_STATES: dict[str, tuple[str, ...]] = {"escalated": ("escalated",), "joint": ("joint_handling",)}
QUEUES = tuple(QUEUE_STATES)
QUEUE_LABELS: dict[str, dict[str, str]] = {
    "escalated": {"zh": "待区城运中心协调", "en": "Awaiting the district center"},
    "joint": {"zh": "联合处置中", "en": "Joint handling"},
}
# Roles at the district center told of a new escalation.
NOTIFY_ROLES = ("dispatcher", "leader")
MAX_DEPTH = 10  # a center hierarchy deeper than this is a cycle


@dataclass(frozen=True)
class Escalation:
    """What handing a case to the district center did (for the ledger)."""

    center: Center
    from_center_id: int | None
    people: list[Person]
    notification_ids: list[int]
    unreachable: list[int]

    def ledger(self) -> dict[str, Any]:
        """The facts the ledger entry keeps."""
        return {"district_center": {"id": self.center.id, "code": self.center.code, "name": self.center.name},
                "from_center_id": self.from_center_id,
                "notified_person_ids": [p.id for p in self.people],
                "notification_ids": self.notification_ids, "unreachable": self.unreachable}


def district_center_for(session: Session, case: Case) -> Center:
    """The district center above the case's center (or the case's center if it is one).

    A case without a center (or one whose centers lead to no district) goes to the only
    district center there is. Raises ``ValidationFailed`` naming ``center_id`` when none is
    configured, or when several are and the case's center does not say which.
    """
    center = session.get(Center, case.center_id) if case.center_id else None
    seen = 0
    while center is not None and seen < MAX_DEPTH:
        if center.level == "district":
            return center
        center = center.parent
        seen += 1
    districts = list(session.execute(select(Center).where(Center.level == "district").order_by(Center.id).limit(2))
                     .scalars())
    if len(districts) == 1:
        return districts[0]
    if not districts:
        raise ValidationFailed("no district center (区城运中心) is configured: add a center with level 'district' "
                               "above the street centers", field="center_id")
    raise ValidationFailed("the case's center is under no district center and there are several: set the street "
                           "center's parent", field="center_id")


def district_people(session: Session, center: Center) -> list[Person]:
    """Who at the district center hears of an escalation: its active dispatchers and leaders,
    and whoever holds a leader position there; each once, in id order."""
    by_role = select(Person.id).join(PersonRole, PersonRole.person_id == Person.id).where(
        Person.center_id == center.id, PersonRole.role.in_(NOTIFY_ROLES))
    positions = select(LeaderPosition.person_id).where(LeaderPosition.center_id == center.id)
    ids = set(session.execute(by_role).scalars()) | set(session.execute(positions).scalars())
    if not ids:
        return []
    return list(session.execute(select(Person).where(Person.id.in_(ids), Person.active.is_(True))
                                .order_by(Person.id)).scalars())


def _message(case: Case, center: Center, reason: str, lang: str) -> tuple[str, str]:
    if lang == "en":
        return (f"[Escalated] {case.number} {case.title}",
                f"Case {case.number} was escalated to {center.name} for coordination.\n"
                f"Reason: {reason}\nAddress: {case.address or '-'}")
    return (f"【上报区城运中心】{case.number} {case.title}",
            f"疑难案件 {case.number} 已上报{center.name}，请协调处置。\n上报原因：{reason}\n地址：{case.address or '-'}")


def hand_to_district(session: Session, case: Case, *, reason: str, by: dict[str, Any], now: datetime,
                     effects: Effects, lang: str = "zh") -> Escalation:
    """Make the district center hold ``case`` and queue a notice to its people (in the caller's
    transaction; delivery runs after commit). ``by`` (who and when) goes into ``case.data``."""
    from caseflow.deadlines.escalation import person_addresses
    from caseflow.notify.outbox import queue_notification

    center = district_center_for(session, case)
    from_center_id = case.center_id
    case.center_id = center.id
    data = dict(case.data or {})
    data["district"] = {"center_id": center.id, "from_center_id": from_center_id, "reason": reason,
                        "at": now.isoformat(), **by}
    case.data = data
    people = district_people(session, center)
    subject, body = _message(case, center, reason, lang)
    ids: list[int] = []
    unreachable: list[int] = []
    for person in people:
        sent = 0
        for channel, address in person_addresses(person):
            row = queue_notification(session, channel=channel, address=address, person_id=person.id,
                                     item_type="case", item_id=case.id, subject=subject, body=body,
                                     payload={"kind": "district_escalation", "case_id": case.id,
                                              "center_id": center.id}, effects=effects)
            ids.append(row.id)
            sent += 1
        if not sent:
            unreachable.append(person.id)
    if not people:
        log.warning("case %s escalated to %s, where nobody is a dispatcher or leader", case.number, center.code)
    return Escalation(center, from_center_id, people, ids, unreachable)


def queue_clause(name: str) -> ColumnElement[bool]:
    """SQL: ``Case`` is in queue ``name`` (``escalated`` or ``joint``); ``ValidationFailed``
    naming ``queue`` for another name."""
    states = QUEUE_STATES.get(name)
    if states is None:
        raise ValidationFailed(f"queue must be one of {', '.join(QUEUES)}", field="queue")
    return (Case.workflow == "case_difficult") & Case.state.in_(states)


def queue_cases(session: Session, name: str, *, center_id: int | None = None, limit: int = 200,
                offset: int = 0) -> list[Case]:
    """The cases of a district queue, oldest escalation first (the longest waiting on top).

    ``center_id`` keeps those one center holds (the district center's own view).
    """
    q = select(Case).where(queue_clause(name))
    if center_id is not None:
        q = q.where(Case.center_id == center_id)
    return list(session.execute(q.order_by(Case.state_entered_at, Case.id).offset(offset).limit(limit)).scalars())


def queue_counts(session: Session, *, center_id: int | None = None) -> dict[str, int]:
    """How many cases each district queue holds (every queue named, zero included)."""
    out = {}
    for name in QUEUES:
        q = select(func.count()).select_from(Case).where(queue_clause(name))
        if center_id is not None:
            q = q.where(Case.center_id == center_id)
        out[name] = int(session.execute(q).scalar() or 0)
    return out
