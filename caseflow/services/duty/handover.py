"""The handover (交接班): opened by the outgoing lead, open items collected by caseflow itself,
accepted or disputed item by item by the incoming lead, completed only when all are accepted.

Triggers outside requests: :func:`send_reminders` is meant for the scheduler/sweeper (every
few minutes; it is idempotent). The late-handover escalation is armed on the shift when it goes
on duty (the shift's ``handover`` deadline, :mod:`.handover_clock`), so a handover nobody opens
escalates too; once opened, the handover's own ``complete`` deadline, pinned to the same
08:30 + ``HANDOVER_GRACE_MIN``, takes over.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from caseflow.models import DutyShift, Handover, HandoverItem, utcnow
from caseflow.security.actor import Actor
from caseflow.services import transition
from caseflow.services.unit_of_work import transaction
from caseflow.workflow.engine import WorkflowCatalog

from .common import local, pin_deadline
from .handover_clock import handover_due
from .notices import already_sent, notify_people
from .open_items import KIND_LABELS, find_open_items, grouped
from .rota import shift_people
from .settings import int_setting

def handover_deadline(shift: DutyShift) -> datetime:
    """When the handover must be complete: the outgoing shift's end (08:30) plus the grace.

    The same instant is armed on the shift itself from the moment it goes on duty
    (:mod:`.handover_clock`), so a handover nobody opens escalates too.
    """
    return handover_due(shift)


def _get(session: Session, handover_id: int) -> Handover:
    h = session.get(Handover, handover_id)
    if h is None:
        raise NotFound(f"handover {handover_id} not found")
    return h


def incoming_shift_of(session: Session, shift: DutyShift) -> DutyShift | None:
    """The center's next shift: the one starting when ``shift`` ends."""
    return session.execute(select(DutyShift).where(
        DutyShift.center_id == shift.center_id, DutyShift.starts_at == shift.ends_at)).scalar_one_or_none()


def open_handover(session: Session, catalog: WorkflowCatalog, shift_id: int, *, actor: Actor) -> Handover:
    """The outgoing lead opens the handover: shift -> handing_over, items collected. Commits."""
    with transaction(session) as effects:
        shift = transition.lock_item(session, "duty_shift", shift_id)
        assert isinstance(shift, DutyShift)
        if actor.person_id is None or actor.person_id != shift.lead_id:
            raise PermissionDenied("only the shift's own lead opens its handover")
        incoming = incoming_shift_of(session, shift)
        if incoming is None or incoming.lead_id is None:
            raise Conflict("the next shift has no lead on the rota; fix the rota before the handover",
                           details={"incoming_shift_id": incoming.id if incoming else None})
        transition.apply(session, catalog, "duty_shift", shift.id, "begin_handover", actor=actor, data={},
                         comment="", effects=effects)
        handover = Handover(outgoing_shift_id=shift.id, incoming_shift_id=incoming.id, data={"notes": []})
        handover.outgoing_shift = shift
        transition.start(session, catalog, handover, workflow="handover", actor=actor, role="duty_lead",
                         trigger="open", effects=effects, commit=False)
        collect_items(session, catalog, handover)
        pin_deadline(session, handover, "complete", handover_deadline(shift), effects)
    return handover


def collect_items(session: Session, catalog: WorkflowCatalog, handover: Handover) -> list[HandoverItem]:
    """Add every open item not already on the handover (so a refresh adds only the new ones)."""
    have = {(i.kind, i.ref_type, i.ref_id) for i in items(session, handover.id)}
    added = []
    for f in find_open_items(session, catalog, handover.outgoing_shift):
        if (f.kind, f.ref_type, f.ref_id) in have:
            continue
        row = HandoverItem(handover_id=handover.id, kind=f.kind, ref_type=f.ref_type, ref_id=f.ref_id,
                           summary=f.summary[:2000], status="pending")
        session.add(row)
        added.append(row)
    session.flush()
    return added


def refresh_items(session: Session, catalog: WorkflowCatalog, handover_id: int, *, actor: Actor) -> list[HandoverItem]:
    """While the handover is being prepared, pick up items that opened since; commits."""
    with transaction(session):
        h = transition.lock_item(session, "handover", handover_id)
        assert isinstance(h, Handover)
        if h.state != "open":
            raise Conflict("items are collected only while the handover is being prepared", details={"state": h.state})
        if actor.person_id != h.outgoing_shift.lead_id:
            raise PermissionDenied("only the outgoing lead refreshes the handover")
        added = collect_items(session, catalog, h)
    return added


def items(session: Session, handover_id: int) -> list[HandoverItem]:
    """The handover's items in the order found."""
    return list(session.execute(
        select(HandoverItem).where(HandoverItem.handover_id == handover_id).order_by(HandoverItem.id)).scalars())


def grouped_items(rows: list[HandoverItem]) -> list[tuple[str, list[HandoverItem]]]:
    """The checklist grouped by kind (instructions, deadlines, case reviews, ...), in checklist order."""
    return grouped(rows)


def accept_all(session: Session, catalog: WorkflowCatalog, handover_id: int, *, actor: Actor, note: str = "",
               kind: str | None = None) -> list[HandoverItem]:
    """The incoming lead accepts, in one action, every item still pending (of one ``kind`` when
    given); disputed items stay disputed until the outgoing lead answers them and they are
    accepted one by one. One transaction; each item is ledgered as its own ``accept_item``, as
    when accepted alone. Returns the items accepted (none when nothing was pending). Commits."""
    if kind is not None and kind not in KIND_LABELS:
        raise ValidationFailed(f"kind must be one of {', '.join(KIND_LABELS)}", field="kind")
    accepted: list[HandoverItem] = []
    with transaction(session) as effects:
        h = transition.lock_item(session, "handover", handover_id)
        query = select(HandoverItem).where(HandoverItem.handover_id == handover_id, HandoverItem.status == "pending")
        if kind is not None:
            query = query.where(HandoverItem.kind == kind)
        pending = list(session.execute(query.order_by(HandoverItem.id)).scalars())
        if not pending:
            # Still refused for the wrong person or state, so the caller learns why nothing happened.
            if h.state != "reviewing":
                raise InvalidTransition(f"'accept_item' is not allowed while handover {handover_id} is '{h.state}'",
                                        details={"state": h.state})
            if actor.person_id is None or actor.person_id != h.incoming_shift.lead_id:  # type: ignore[attr-defined]
                raise PermissionDenied("only the incoming lead accepts the handover's items")
        for row in pending:
            transition.apply(session, catalog, "handover", handover_id, "accept_item", actor=actor,
                             data={"item_id": row.id, "note": note, "all": True}, comment="", effects=effects,
                             locked=h, flush=False)
            accepted.append(row)
    return accepted


def add_note(session: Session, catalog: WorkflowCatalog, handover_id: int, note: str, *, actor: Actor,
             item_id: int | None = None) -> Handover:
    """The outgoing lead's note on the handover, or on one item (which answers a dispute)."""
    data: dict[str, Any] = {"note": note}
    if item_id is not None:
        data["item_id"] = item_id
    return transition.fire(session, catalog, "handover", handover_id, "add_note", actor=actor, data=data)  # type: ignore[return-value]


def submit(session: Session, catalog: WorkflowCatalog, handover_id: int, *, actor: Actor) -> Handover:
    """The outgoing lead hands the checklist to the incoming lead; the deadline stays at 08:30 + grace."""
    with transaction(session) as effects:
        h = transition.apply(session, catalog, "handover", handover_id, "submit", actor=actor, data={},
                             comment="", effects=effects)
        assert isinstance(h, Handover)
        pin_deadline(session, h, "complete", handover_deadline(h.outgoing_shift), effects)
    return h


def accept_item(session: Session, catalog: WorkflowCatalog, handover_id: int, item_id: int, *, actor: Actor,
                note: str = "") -> HandoverItem:
    """The incoming lead takes over one item."""
    transition.fire(session, catalog, "handover", handover_id, "accept_item", actor=actor,
                    data={"item_id": item_id, "note": note})
    return session.get(HandoverItem, item_id)  # type: ignore[return-value]


def dispute_item(session: Session, catalog: WorkflowCatalog, handover_id: int, item_id: int, note: str, *,
                 actor: Actor) -> HandoverItem:
    """The incoming lead disputes one item; the note is required."""
    transition.fire(session, catalog, "handover", handover_id, "dispute_item", actor=actor,
                    data={"item_id": item_id, "note": note})
    return session.get(HandoverItem, item_id)  # type: ignore[return-value]


def complete(session: Session, catalog: WorkflowCatalog, handover_id: int, *, actor: Actor) -> Handover:
    """The incoming lead accepts the handover (refused while any item is not accepted).

    In the same transaction the outgoing shift closes and the incoming one goes on duty;
    after commit the people coming on shift get the open items.
    """
    with transaction(session) as effects:
        h = transition.apply(session, catalog, "handover", handover_id, "accept", actor=actor, data={},
                             comment="", effects=effects)
        assert isinstance(h, Handover)
        system = Actor.system("handover")
        transition.apply(session, catalog, "duty_shift", h.outgoing_shift_id, "close", actor=system,
                         data={"handover_id": h.id}, comment="handover completed", effects=effects)
        incoming = session.get(DutyShift, h.incoming_shift_id)
        if incoming is not None and incoming.state == "planned":
            transition.apply(session, catalog, "duty_shift", incoming.id, "start", actor=system,
                             data={"handover_id": h.id}, comment="handover completed", effects=effects)
        rows = items(session, h.id)
        lines = [f"{i + 1}. [{KIND_LABELS.get(r.kind, r.kind)}] {r.summary}" + (f" (交班说明: {r.note})" if r.note else "")
                 for i, r in enumerate(rows)]
        notify_people(
            session, shift_people(session, h.incoming_shift_id),
            subject=f"接班: {len(rows)} 项待办事项", body="本班接手的未结事项:\n" + ("\n".join(lines) or "无"),
            item_type="handover", item_id=h.id, payload={"kind": "handover_items", "key": str(h.id),
                                                          "items": [r.id for r in rows]},
            effects=effects,
        )
    return h


def send_reminders(session: Session, now: datetime | None = None, minutes_before: int | None = None) -> int:
    """Remind the people of each shift ending within ``HANDOVER_REMINDER_MIN`` that the handover is
    coming (nobody leaves before it is done). Idempotent: one reminder per shift. Commits.

    Called by the scheduler/sweeper every few minutes (e.g. ``caseflow duty remind`` from cron,
    or from the sweep loop); returns how many shifts were reminded.
    """
    now = now or utcnow()
    window = timedelta(minutes=int_setting("HANDOVER_REMINDER_MIN") if minutes_before is None else minutes_before)
    count = 0
    with transaction(session) as effects:
        shifts = session.execute(select(DutyShift).where(
            DutyShift.state == "on_duty", DutyShift.ends_at <= now + window, DutyShift.ends_at > now - window,
        )).scalars().all()
        for s in shifts:
            if already_sent(session, "duty_shift", s.id, "handover_reminder", str(s.id)):
                continue
            notify_people(
                session, shift_people(session, s.id), subject=f"交接班提醒: {local(s.ends_at)}",
                body=f"本班将于 {local(s.ends_at)} 交接班(晨会), 请整理未结事项; 交接完成后方可下班。",
                item_type="duty_shift", item_id=s.id, payload={"kind": "handover_reminder", "key": str(s.id)},
                effects=effects,
            )
            count += 1
    return count


def print_view(session: Session, catalog: WorkflowCatalog, handover_id: int) -> dict[str, Any]:
    """Everything the printable record of a handover shows."""
    h = _get(session, handover_id)
    d = catalog.definition(h.workflow, h.workflow_version)
    return {
        "handover": h, "state_label": d.label(h.state), "outgoing": h.outgoing_shift, "incoming": h.incoming_shift,
        # Grouped by kind, as on the checklist page.
        "items": [r for _, rows in grouped(items(session, h.id)) for r in rows],
        "notes": (h.data or {}).get("notes", []), "kind_labels": KIND_LABELS,
        "read_only": d.states[h.state].final, "local": local, "deadline": handover_deadline(h.outgoing_shift),
    }
