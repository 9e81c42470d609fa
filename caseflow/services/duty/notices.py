"""Queue duty-watch messages to people through the notification outbox (delivered after commit)."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.models import LeaderPosition, Notification, Person, PersonRole
from caseflow.notify.outbox import queue_notification

log = logging.getLogger(__name__)

# Channels a person can be reached on personally, and the Person field holding the address.
_PERSONAL = {"email": "email", "sms": "phone"}


def address_for(person: Person) -> tuple[str, str] | None:
    """The person's first preferred personal channel with an address (email, then sms by default)."""
    for channel in [*(person.channels or []), "email", "sms"]:
        attr = _PERSONAL.get(channel)
        value = getattr(person, attr, "") if attr else ""
        if value:
            return channel, value
    return None


def notify_people(
    session: Session, people: list[Person], *, subject: str, body: str, item_type: str, item_id: int | None,
    payload: dict[str, Any], effects: Effects | None,
) -> list[Notification]:
    """One outbox row per reachable, active person (duplicates dropped); the caller commits."""
    rows = []
    seen: set[int] = set()
    for person in people:
        if person.id in seen or not person.active:
            continue
        seen.add(person.id)
        target = address_for(person)
        if target is None:
            log.warning("%s has no address for duty notices", person)
            continue
        rows.append(queue_notification(
            session, channel=target[0], address=target[1], person_id=person.id, item_type=item_type,
            item_id=item_id, subject=subject, body=body, payload=payload, effects=effects,
        ))
    return rows


def center_leaders(session: Session, center_id: int) -> list[Person]:
    """The center's leaders: principal and deputies; else everyone holding the leader role there."""
    ids = list(session.execute(
        select(LeaderPosition.person_id).where(LeaderPosition.center_id == center_id)
        .order_by(LeaderPosition.kind.desc(), LeaderPosition.id)  # principal before deputy_in_charge
    ).scalars())
    if not ids:
        ids = list(session.execute(
            select(Person.id).join(PersonRole, PersonRole.person_id == Person.id)
            .where(PersonRole.role == "leader", Person.center_id == center_id)
        ).scalars())
    people = {p.id: p for p in session.execute(select(Person).where(Person.id.in_(ids))).scalars()}
    return [people[i] for i in dict.fromkeys(ids) if i in people]


def already_sent(session: Session, item_type: str, item_id: int, kind: str, key: str) -> bool:
    """True when a notice of ``kind`` with dedupe ``key`` was already queued for the item."""
    rows = session.execute(
        select(Notification.payload).where(Notification.item_type == item_type, Notification.item_id == item_id)
    ).scalars()
    return any((p or {}).get("kind") == kind and (p or {}).get("key") == key for p in rows)
