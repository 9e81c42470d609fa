"""The handover (交接班): opened by the outgoing lead, open items collected by caseflow itself,
accepted or disputed item by item by the incoming lead, completed only when all are accepted.

Triggers outside requests: :func:`send_reminders` is meant for the scheduler/sweeper (every
few minutes; it is idempotent), the late-handover escalation is the handover's own
``complete`` deadline pinned to 08:30 + ``HANDOVER_GRACE_MIN``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from caseflow.deadlines.targets import item_center_id
from caseflow.effects import Effects
from caseflow.errors import Conflict, NotFound, PermissionDenied
from caseflow.models import (
    Case,
    Deadline,
    DutyLogEntry,
    DutyShift,
    Handover,
    HandoverItem,
    Instruction,
    ITEM_MODELS,
    ReturnRequest,
    utcnow,
)
from caseflow.security.actor import Actor
from caseflow.services import transition
from caseflow.services.returns import OPEN_STATES as RETURN_OPEN_STATES
from caseflow.workflow.engine import WorkflowCatalog

from .common import local, pin_deadline
from .notices import already_sent, notify_people
from .rota import shift_people
from .settings import int_setting

# Items whose own deadlines the handover lists under their parents, not as deadlines.
_DUTY_ITEM_TYPES = ("duty_shift", "handover", "roll_call")
CASE_REVIEW_STATES = ("reported", "checking")
KIND_LABELS = {
    "instruction": "未办结指令", "deadline": "时限", "case_review": "待核实/核查案件", "return_request": "待审退单",
    "urgent_document": "未办结紧急公文", "roll_call": "未应答点名", "flagged_entry": "标记的值班记录",
}


def handover_deadline(shift: DutyShift) -> datetime:
    """When the handover must be complete: the outgoing shift's end (08:30) plus the grace."""
    return shift.ends_at + timedelta(minutes=int_setting("HANDOVER_GRACE_MIN"))


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
    effects = Effects()
    try:
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
        session.commit()
    except BaseException:
        session.rollback()
        effects.discard()
        raise
    effects.dispatch()
    return handover


@dataclass
class _Found:
    kind: str
    ref_type: str
    ref_id: int
    summary: str


def _final_states(session: Session, catalog: WorkflowCatalog, model: Any) -> set[str]:
    finals: set[str] = set()
    for name, version in session.execute(select(model.workflow, model.workflow_version).distinct()).all():
        d = catalog.definition(name, version)
        finals |= {s.name for s in d.states.values() if s.final}
    return finals


def _in_center(session: Session, item: Any, center_id: int) -> bool:
    found = item_center_id(session, item)
    return found is None or found == center_id  # an item without a center belongs to every center


def find_open_items(session: Session, catalog: WorkflowCatalog, shift: DutyShift, now: datetime | None = None) -> list[_Found]:
    """Every open item the incoming shift must take over, found from the data itself."""
    now = now or utcnow()
    center_id = shift.center_id
    found: list[_Found] = []
    finals = _final_states(session, catalog, Instruction)
    for i in session.execute(select(Instruction).where(Instruction.state.not_in(finals or {""})).order_by(Instruction.id)).scalars():
        if _in_center(session, i, center_id):
            found.append(_Found("instruction", "instruction", i.id, f"指令 {i.number} ({i.state}) {i.address}".strip()))
    rows = session.execute(select(Deadline).where(
        Deadline.item_type.not_in(_DUTY_ITEM_TYPES),
        or_(Deadline.status == "pending",
            (Deadline.status == "fired") & (Deadline.fired_at >= shift.starts_at)),
    ).order_by(Deadline.due_at)).scalars()
    for d in rows:
        model = ITEM_MODELS.get(d.item_type)
        item = session.get(model, d.item_id) if model else None
        if item is None or not _in_center(session, item, center_id):
            continue
        what = "已超时" if d.status == "fired" else "进行中"
        found.append(_Found("deadline", "deadline", d.id,
                            f"{d.item_type} {d.item_id} 时限 {d.key} {what}, 到期 {local(d.due_at)}"))
    for c in session.execute(select(Case).where(Case.state.in_(CASE_REVIEW_STATES),
                                                or_(Case.center_id == center_id, Case.center_id.is_(None)))
                             .order_by(Case.id)).scalars():
        found.append(_Found("case_review", "case", c.id, f"案件 {c.number} {c.title} ({c.state})"))
    # Every open request: awaiting the dispatcher (requested) or the leader (leader_review).
    returns = select(ReturnRequest).where(ReturnRequest.state.in_(RETURN_OPEN_STATES)).order_by(ReturnRequest.id)
    for r in session.execute(returns).scalars():
        if _in_center(session, r.case, center_id):
            what = "待领导审核" if r.state == "leader_review" else "待审核"
            found.append(_Found("return_request", "return_request", r.id,
                                f"案件 {r.case.number} 退单申请 ({what}): {r.reason}"))
    log = select(DutyLogEntry).where(DutyLogEntry.center_id == center_id).order_by(DutyLogEntry.id)
    for e in session.execute(log.where(DutyLogEntry.type == "urgent_document", DutyLogEntry.done_at.is_(None))).scalars():
        found.append(_Found("urgent_document", "duty_log_entry", e.id, f"紧急公文: {e.summary}"))
    for e in session.execute(log.where(DutyLogEntry.type == "roll_call", DutyLogEntry.answered_at.is_(None))).scalars():
        found.append(_Found("roll_call", "duty_log_entry", e.id, f"点名 {local(e.asked_at)} 未应答"))
    for e in session.execute(log.where(DutyLogEntry.flagged.is_(True))).scalars():
        found.append(_Found("flagged_entry", "duty_log_entry", e.id, f"{e.type}: {e.summary or e.asked}"))
    return found


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
    try:
        h = transition.lock_item(session, "handover", handover_id)
        assert isinstance(h, Handover)
        if h.state != "open":
            raise Conflict("items are collected only while the handover is being prepared", details={"state": h.state})
        if actor.person_id != h.outgoing_shift.lead_id:
            raise PermissionDenied("only the outgoing lead refreshes the handover")
        added = collect_items(session, catalog, h)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return added


def items(session: Session, handover_id: int) -> list[HandoverItem]:
    """The handover's items in the order found."""
    return list(session.execute(
        select(HandoverItem).where(HandoverItem.handover_id == handover_id).order_by(HandoverItem.id)).scalars())


def add_note(session: Session, catalog: WorkflowCatalog, handover_id: int, note: str, *, actor: Actor,
             item_id: int | None = None) -> Handover:
    """The outgoing lead's note on the handover, or on one item (which answers a dispute)."""
    data: dict[str, Any] = {"note": note}
    if item_id is not None:
        data["item_id"] = item_id
    return transition.fire(session, catalog, "handover", handover_id, "add_note", actor=actor, data=data)  # type: ignore[return-value]


def submit(session: Session, catalog: WorkflowCatalog, handover_id: int, *, actor: Actor) -> Handover:
    """The outgoing lead hands the checklist to the incoming lead; the deadline stays at 08:30 + grace."""
    effects = Effects()
    try:
        h = transition.apply(session, catalog, "handover", handover_id, "submit", actor=actor, data={},
                             comment="", effects=effects)
        assert isinstance(h, Handover)
        pin_deadline(session, h, "complete", handover_deadline(h.outgoing_shift), effects)
        session.commit()
    except BaseException:
        session.rollback()
        effects.discard()
        raise
    effects.dispatch()
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
    effects = Effects()
    try:
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
        session.commit()
    except BaseException:
        session.rollback()
        effects.discard()
        raise
    effects.dispatch()
    return h


def send_reminders(session: Session, now: datetime | None = None, minutes_before: int | None = None) -> int:
    """Remind the people of each shift ending within ``HANDOVER_REMINDER_MIN`` that the handover is
    coming (nobody leaves before it is done). Idempotent: one reminder per shift. Commits.

    Called by the scheduler/sweeper every few minutes (e.g. ``caseflow duty remind`` from cron,
    or from the sweep loop); returns how many shifts were reminded.
    """
    now = now or utcnow()
    window = timedelta(minutes=int_setting("HANDOVER_REMINDER_MIN") if minutes_before is None else minutes_before)
    effects = Effects()
    count = 0
    try:
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
        session.commit()
    except BaseException:
        session.rollback()
        effects.discard()
        raise
    effects.dispatch()
    return count


def print_view(session: Session, catalog: WorkflowCatalog, handover_id: int) -> dict[str, Any]:
    """Everything the printable record of a handover shows."""
    h = _get(session, handover_id)
    d = catalog.definition(h.workflow, h.workflow_version)
    return {
        "handover": h, "state_label": d.label(h.state), "outgoing": h.outgoing_shift, "incoming": h.incoming_shift,
        "items": items(session, h.id), "notes": (h.data or {}).get("notes", []), "kind_labels": KIND_LABELS,
        "read_only": d.states[h.state].final, "local": local, "deadline": handover_deadline(h.outgoing_shift),
    }
