"""Console pages of the duty watch: the shift on duty, the log, roll calls, the handover checklist,
and the printable record of a handover. Pages only translate; services decide and commit."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from caseflow.errors import DomainError
from caseflow.extensions import db
from caseflow.models import Handover, Person
from caseflow.models.duty import LOG_TYPES
from caseflow.security.actor import Actor
from caseflow.services.duty import handover, log
from caseflow.services.duty.common import current_shift, local
from caseflow.services.duty.rota import shift_rule
from caseflow.workflow.engine import get_catalog

from .guards import current_person, login_required

bp = Blueprint("duty_console", __name__, url_prefix="/duty/watch")

DUTY = ["duty_lead", "duty_officer"]
LOG_LABELS = {
    "call_help": "求助来电", "call_enquiry": "咨询来电", "call_complaint": "投诉来电", "visitor": "群众来访",
    "roll_call": "点名应答", "urgent_document": "紧急公文", "event": "事件", "note": "备注",
}


def _me() -> tuple[Any, Actor]:
    person = current_person()
    return person, Actor.from_person(person)


def _back() -> Response:
    return redirect(url_for("duty_console.watch"))


@bp.get("/")
@login_required(roles=DUTY)
def watch() -> str:
    """The center's shift on duty, its log, open roll calls and (while handing over) the checklist."""
    person, _ = _me()
    session = db.session()
    shift = current_shift(session, person.center_id) if person.center_id else None
    h = None
    if shift is not None:
        h = session.execute(select(Handover).where(Handover.outgoing_shift_id == shift.id)).scalar_one_or_none()
    entries = log.entries(session, person.center_id, limit=50) if person.center_id else []
    # A holiday / special-period / emergency shift says so, with its minimum and leader on shift.
    rule = shift_rule(session, shift) if shift is not None else None
    leader = session.get(Person, shift.leader_on_shift_id) if shift is not None and shift.leader_on_shift_id else None
    return render_template("duty/watch.html", shift=shift, handover=h, items=handover.items(session, h.id) if h else [],
                           entries=entries, log_types=LOG_TYPES, log_labels=LOG_LABELS, local=local,
                           kind_labels=handover.KIND_LABELS, me=person, rule=rule, leader=leader)


@bp.post("/log")
@login_required(roles=DUTY)
def add_entry() -> Response:
    """Write one log entry from the form."""
    person, actor = _me()
    form = {k: v for k, v in request.form.items() if k not in ("csrf_token", "type")}
    form["flagged"] = bool(form.get("flagged"))
    try:
        log.record(db.session(), get_catalog(), person.center_id, request.form.get("type", ""), actor=actor, **form)
        flash("已记录", "ok")
    except DomainError as exc:
        flash(exc.message, "error")
    return _back()


@bp.post("/log/<int:entry_id>/answer")
@login_required(roles=DUTY)
def answer(entry_id: int) -> Response:
    """Answer a roll call."""
    _, actor = _me()
    try:
        log.answer_roll_call(db.session(), get_catalog(), entry_id, actor=actor)
        flash("已应答", "ok")
    except DomainError as exc:
        flash(exc.message, "error")
    return _back()


@bp.post("/handovers/<int:handover_id>/items/<int:item_id>/<any(accept, dispute):verdict>")
@login_required(roles=["duty_lead"])
def review(handover_id: int, item_id: int, verdict: str) -> Response:
    """The incoming lead accepts or disputes one checklist item."""
    _, actor = _me()
    note = request.form.get("note", "")
    try:
        if verdict == "accept":
            handover.accept_item(db.session(), get_catalog(), handover_id, item_id, actor=actor, note=note)
        else:
            handover.dispute_item(db.session(), get_catalog(), handover_id, item_id, note, actor=actor)
    except DomainError as exc:
        flash(exc.message, "error")
    return _back()


@bp.get("/handovers/<int:handover_id>/print")
@login_required(roles=["duty_lead", "duty_officer", "leader", "admin"])
def print_handover(handover_id: int) -> str:
    """The handover record, read-only, with a print stylesheet."""
    try:
        view = handover.print_view(db.session(), get_catalog(), handover_id)
    except DomainError:
        from flask import abort

        abort(404)
    return render_template("duty/handover_print.html", **view)
