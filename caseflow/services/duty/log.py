"""The duty log (值班记录): calls, visitors, roll calls, urgent documents, events and notes.

A roll call also starts a small ``roll_call`` workflow item whose ``answer`` deadline (pinned
to asked_at + ``ROLL_CALL_ANSWER_MIN``) escalates through the deadline engine when nobody
answers: the database row is the truth, RQ the alarm clock, the sweeper the safety net.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from caseflow.errors import Conflict, NotFound, ValidationFailed
from caseflow.models import Case, Center, Deadline, DutyLogEntry, Instruction, Person, RollCall, utcnow
from caseflow.models.duty import LOG_TYPES
from caseflow.security.actor import Actor
from caseflow.services import transition
from caseflow.services.unit_of_work import transaction
from caseflow.workflow.engine import WorkflowCatalog

from .common import DUTY_ROLES, as_int, current_shift, pin_deadline, require_role
from .settings import int_setting

# Text fields each type must carry (a visitor is never turned away without a record).
REQUIRED = {
    "call_help": ("summary",), "call_enquiry": ("summary",), "call_complaint": ("summary",),
    "visitor": ("asked", "explained"), "roll_call": (), "urgent_document": ("summary",),
    "event": ("summary",), "note": ("summary",),
}
TEXT_FIELDS = ("summary", "contact", "asked", "explained", "guided_to", "direction")


# A clock a little ahead of the server's is tolerated; a time further ahead is a typo.
FUTURE_SLACK = timedelta(minutes=2)


def _aware(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationFailed(f"{field} must be an ISO 8601 time", field=field) from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationFailed(f"{field} must be a time with a zone", field=field)
    if value > utcnow() + FUTURE_SLACK:
        raise ValidationFailed(f"{field} must not be in the future", field=field)
    return value


def _linked(session: Session, model: Any, value: Any, field: str) -> int:
    """The id of the case or instruction ``value`` names: its id, or its number (编号)."""
    raw = str(value).strip()
    if raw.isdigit() and session.get(model, int(raw)) is not None:
        return int(raw)
    found = session.execute(select(model.id).where(model.number == raw)).scalar_one_or_none() if raw else None
    if found is None:
        raise ValidationFailed(f"{field} {raw} does not exist (give its id or number)", field=field)
    return int(found)


def record(session: Session, catalog: WorkflowCatalog, center_id: int, type: str, *, actor: Actor,
           **fields: Any) -> DutyLogEntry:
    """Write one log entry on the center's current shift; commits.

    ``fields``: summary, contact, flagged, case_id, instruction_id (each an id or a number), and
    per type: visitor (asked, explained, guided_to), roll_call (asked_at), urgent_document
    (received_at); a time must have a zone and not lie in the future.
    """
    require_role(actor, DUTY_ROLES, "writing the duty log")
    if type not in LOG_TYPES:
        raise ValidationFailed(f"type must be one of {', '.join(LOG_TYPES)}", field="type")
    if session.get(Center, center_id) is None:
        raise ValidationFailed(f"center {center_id} does not exist", field="center_id")
    text = {k: str(fields.get(k) or "").strip() for k in TEXT_FIELDS}
    for name in REQUIRED[type]:
        if not text[name]:
            raise ValidationFailed(f"{name} is required for a {type} entry", field=name)
    now = utcnow()
    entry = DutyLogEntry(center_id=center_id, type=type, at=now, recorded_by_id=actor.person_id,
                         flagged=bool(fields.get("flagged", False)), **{k: v for k, v in text.items() if k != "direction"})
    for link, model in (("case_id", Case), ("instruction_id", Instruction)):
        if fields.get(link) not in (None, ""):
            setattr(entry, link, _linked(session, model, fields[link], link))
    shift = current_shift(session, center_id)
    entry.shift_id = shift.id if shift else None
    if type == "roll_call":
        entry.asked_at = _aware(fields.get("asked_at"), "asked_at") or now
    if type == "urgent_document":
        entry.received_at = _aware(fields.get("received_at"), "received_at") or now
    with transaction(session) as effects:
        session.add(entry)
        session.flush()
        if type == "roll_call":
            roll = RollCall(center_id=center_id, shift_id=entry.shift_id, log_entry_id=entry.id)
            transition.start(session, catalog, roll, workflow="roll_call", actor=actor,
                             role=require_role(actor, DUTY_ROLES, "logging a roll call"),
                             payload={"asked_at": entry.asked_at.isoformat()}, effects=effects, commit=False)
            due = entry.asked_at + timedelta(minutes=int_setting("ROLL_CALL_ANSWER_MIN"))
            pin_deadline(session, roll, "answer", due, effects)
    return entry


def entry(session: Session, entry_id: int) -> DutyLogEntry:
    """One log entry, or ``NotFound``."""
    row = session.get(DutyLogEntry, entry_id)
    if row is None:
        raise NotFound(f"duty log entry {entry_id} not found")
    return row


def roll_call_of(session: Session, entry_id: int) -> RollCall:
    """The roll-call item of a roll-call log entry."""
    row = session.execute(select(RollCall).where(RollCall.log_entry_id == entry_id)).scalar_one_or_none()
    if row is None:
        raise ValidationFailed(f"log entry {entry_id} is not a roll call", field="entry_id")
    return row


def answer_roll_call(session: Session, catalog: WorkflowCatalog, entry_id: int, *, actor: Actor) -> DutyLogEntry:
    """Answer a roll call; an answer after the deadline fired is recorded as late and stops the escalation. Commits."""
    entry(session, entry_id)
    roll = roll_call_of(session, entry_id)
    late = session.execute(select(Deadline.id).where(
        Deadline.item_type == "roll_call", Deadline.item_id == roll.id, Deadline.status == "fired")).first()
    transition.fire(session, catalog, "roll_call", roll.id, "answer", actor=actor, data={"late": late is not None})
    return entry(session, entry_id)


def report_urgent_document(session: Session, entry_id: int, reported_to_id: Any, direction: str, *,
                           actor: Actor, reported_at: Any = None) -> DutyLogEntry:
    """Record that an urgent document was reported to a principal leader (when: ``reported_at``,
    default now; not before it was received, not in the future), and the leader's direction."""
    require_role(actor, DUTY_ROLES, "handling urgent documents")
    row = _urgent(session, entry_id)
    leader = session.get(Person, as_int(reported_to_id, "reported_to_id"))
    if leader is None or "leader" not in leader.roles:
        raise ValidationFailed("reported_to_id must be a leader", field="reported_to_id")
    if not (direction or "").strip():
        raise ValidationFailed("direction is required: what the leader asked for", field="direction")
    when = _aware(reported_at, "reported_at") or utcnow()
    if row.received_at is not None and when < row.received_at:
        raise ValidationFailed("reported_at must not be before the document was received", field="reported_at")
    row.reported_to_id = leader.id
    row.reported_at = when
    row.direction = direction.strip()
    session.commit()
    return row


def complete_urgent_document(session: Session, entry_id: int, done_note: str, *, actor: Actor) -> DutyLogEntry:
    """Record how an urgent document was done as the leader directed; commits."""
    require_role(actor, DUTY_ROLES, "handling urgent documents")
    row = _urgent(session, entry_id)
    if row.reported_at is None:
        raise Conflict("report the document to a leader before closing it", details={"reported_at": None})
    if not (done_note or "").strip():
        raise ValidationFailed("done_note is required", field="done_note")
    row.done_at = utcnow()
    row.done_note = done_note.strip()
    session.commit()
    return row


def _urgent(session: Session, entry_id: int) -> DutyLogEntry:
    row = entry(session, entry_id)
    if row.type != "urgent_document":
        raise ValidationFailed(f"log entry {entry_id} is not an urgent document", field="entry_id")
    if row.done_at is not None:
        raise Conflict(f"urgent document {entry_id} is already done", details={"done_at": row.done_at.isoformat()})
    return row


def set_flag(session: Session, entry_id: int, flagged: bool, *, actor: Actor) -> DutyLogEntry:
    """Flag an entry for the handover (or clear the flag once dealt with); commits."""
    require_role(actor, DUTY_ROLES, "flagging log entries")
    row = entry(session, entry_id)
    row.flagged = bool(flagged)
    session.commit()
    return row


def entries_query(center_id: int, shift_id: int | None = None) -> Select[tuple[DutyLogEntry]]:
    """The query of the center's log, newest first (one shift's when ``shift_id`` is given), for paging."""
    query = select(DutyLogEntry).where(DutyLogEntry.center_id == center_id)
    if shift_id is not None:
        query = query.where(DutyLogEntry.shift_id == shift_id)
    return query.order_by(DutyLogEntry.at.desc(), DutyLogEntry.id.desc())


def entries(session: Session, center_id: int, shift_id: int | None = None, limit: int = 200) -> list[DutyLogEntry]:
    """The center's log, newest first (one shift's when ``shift_id`` is given)."""
    return list(session.execute(entries_query(center_id, shift_id).limit(limit)).scalars())
