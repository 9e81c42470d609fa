"""The duty lead's handover page (交接班): the outgoing lead opens it (caseflow collects the open
items), adds notes and hands it over; the incoming lead accepts or disputes each item and
completes the handover. Every step goes through :mod:`caseflow.services.duty.handover`.

The duty landing page ``pages.duty`` (/duty) renders :func:`duty_context`.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from sqlalchemy import or_, select
from werkzeug.wrappers import Response

from caseflow.extensions import db
from caseflow.models import DutyLogEntry, DutyShift, Handover, utcnow
from caseflow.models.duty import LOG_TYPES
from caseflow.services.duty import handover as svc
from caseflow.services.duty.common import current_shift
from caseflow.services.escalation_views import console_runs
from caseflow.workflow.engine import get_catalog

from .console_forms import choice, new_form_token
from .duty_forms import run_once
from .guards import login_required
from .i18n import t
from .leader import escalation_rows
from .work import attempt, back, me, number, text

bp = Blueprint("duty_pages", __name__, url_prefix="/duty/handover")
bp.add_app_template_global(new_form_token, "form_token")

DUTY = ["duty_lead", "duty_officer"]


def _relevant_handover(shift: DutyShift | None) -> Handover | None:
    """The handover of the shift on duty: the one it hands over, else the one it took over."""
    if shift is None:
        return None
    rows = list(db.session.execute(
        select(Handover).where(or_(Handover.outgoing_shift_id == shift.id, Handover.incoming_shift_id == shift.id))
        .order_by(Handover.id.desc())
    ).scalars())
    outgoing = [h for h in rows if h.outgoing_shift_id == shift.id]
    return outgoing[0] if outgoing else (rows[0] if rows else None)


def duty_context() -> dict[str, Any]:
    """The duty landing page: the shift on duty, open roll calls, the handover's progress."""
    from .pages import state_label

    person, _ = me()
    shift = current_shift(db.session(), person.center_id) if person.center_id else None
    if shift is None:  # a person without a center sees the newest shift on duty anywhere
        shift = db.session.execute(select(DutyShift).where(DutyShift.state.in_(("on_duty", "handing_over")))
                                   .order_by(DutyShift.starts_at.desc()).limit(1)).scalar_one_or_none()
    roll_calls: list[DutyLogEntry] = []
    if shift is not None:
        roll_calls = list(db.session.execute(select(DutyLogEntry).where(
            DutyLogEntry.center_id == shift.center_id, DutyLogEntry.type == "roll_call",
            DutyLogEntry.answered_at.is_(None)).order_by(DutyLogEntry.id)).scalars())
    h = _relevant_handover(shift)
    # Escalations this person was told about, with the acknowledge button (as on the leader's page).
    mine = escalation_rows(console_runs(db.session(), utcnow(), told=person.id))
    return {"shift": shift, "shift_label": state_label(shift) if shift else "", "roll_calls": roll_calls,
            "handover": h, "handover_label": state_label(h) if h else "", "log_types": LOG_TYPES,
            "my_escalations": mine}


@bp.get("/")
@login_required(roles=DUTY)
def index() -> Any:
    """The handover of the shift on duty (or the button to open it)."""
    person, _ = me()
    shift = current_shift(db.session(), person.center_id) if person.center_id else None
    h = _relevant_handover(shift)
    if h is not None:
        return show(h.id)
    return render_template("duty_pages/handover.html", shift=shift, handover=None, items=[], groups=[], pending=0,
                           can_open=shift is not None and shift.lead_id == person.id, me_id=person.id)


@bp.get("/<int:handover_id>")
@login_required(roles=DUTY)
def show(handover_id: int) -> str:
    """One handover: its notes, its checklist and the steps the signed-in lead can take."""
    from .pages import state_label

    person, _ = me()
    db.session.expire_all()
    h = db.session.get(Handover, handover_id)
    if h is None:
        abort(404)
    items = svc.items(db.session(), h.id)
    outgoing_lead = h.outgoing_shift.lead_id
    incoming_lead = h.incoming_shift.lead_id
    return render_template(
        "duty_pages/handover.html", shift=h.outgoing_shift, handover=h, items=items, state_label=state_label(h),
        groups=svc.grouped_items(items), pending=sum(1 for i in items if i.status == "pending"),
        kind_labels=svc.KIND_LABELS, notes=(h.data or {}).get("notes", []), due_at=svc.handover_deadline(h.outgoing_shift),
        is_outgoing=person.id == outgoing_lead, is_incoming=person.id == incoming_lead,
        all_accepted=all(i.status == "accepted" for i in items), can_open=False, me_id=person.id,
    )


@bp.post("/open/<int:shift_id>")
@login_required(roles=["duty_lead"])
def open_(shift_id: int) -> Response:
    """The outgoing lead opens the handover; the open items are collected by caseflow."""
    _, actor = me()
    h = attempt(lambda: svc.open_handover(db.session(), get_catalog(), shift_id, actor=actor), t("flash.done.handover.open"))
    return back("duty_pages.show", handover_id=h.id) if h else back("duty_pages.index")


@bp.post("/<int:handover_id>/<any(note, refresh, submit, complete):step>")
@login_required(roles=["duty_lead"])
def step(handover_id: int, step: str) -> Response:
    """Note, refresh the items, hand over for review (outgoing) or complete (incoming)."""
    _, actor = me()
    session, catalog = db.session(), get_catalog()

    def call() -> Any:
        if step == "note":
            return svc.add_note(session, catalog, handover_id, text("note", required=True), actor=actor,
                                item_id=number("item_id"))
        if step == "refresh":
            return svc.refresh_items(session, catalog, handover_id, actor=actor)
        if step == "submit":
            return svc.submit(session, catalog, handover_id, actor=actor)
        return svc.complete(session, catalog, handover_id, actor=actor)

    attempt(call, t("flash.done.handover." + step))
    return back("duty_pages.show", handover_id=handover_id)


@bp.post("/<int:handover_id>/items/<int:item_id>/<any(accept, dispute):verdict>")
@login_required(roles=["duty_lead"])
def review(handover_id: int, item_id: int, verdict: str) -> Response:
    """The incoming lead accepts one item, or disputes it with a note."""
    _, actor = me()
    session, catalog = db.session(), get_catalog()

    def call() -> Any:
        if verdict == "accept":
            return svc.accept_item(session, catalog, handover_id, item_id, actor=actor, note=text("note"))
        return svc.dispute_item(session, catalog, handover_id, item_id, text("note", required=True), actor=actor)

    attempt(call, t("flash.done.handover." + verdict))
    return back("duty_pages.show", handover_id=handover_id)


@bp.post("/<int:handover_id>/accept-all")
@login_required(roles=["duty_lead"])
def accept_all(handover_id: int) -> Response:
    """The incoming lead accepts every undisputed item at once (of one ``kind`` when given);
    disputed items keep their dispute. A second submit of the same form does nothing."""
    _, actor = me()
    session, catalog = db.session(), get_catalog()

    def call() -> Any:
        kind = choice("kind", list(svc.KIND_LABELS), required=False) or None
        return svc.accept_all(session, catalog, handover_id, actor=actor, kind=kind, note=text("note"))

    return run_once(call, t("flash.done.handover.accept_all"), lambda _r: back("duty_pages.show", handover_id=handover_id))
