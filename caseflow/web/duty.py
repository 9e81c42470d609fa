"""Console pages of the duty watch: the shift on duty, emergency mode, the rota and swaps, special
periods, the log (calls, visitors, roll calls with their time, urgent documents reported to the
principal leaders and done as directed, links to cases and instructions), the handover checklist,
and the printable record of a handover. Pages only translate; services decide and commit.

Emergency mode and special periods live in :mod:`.duty_modes`, the rota and swaps in
:mod:`.duty_rota` (child blueprints of this one, under /duty/watch).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from caseflow.deadlines.item_centers import in_center, with_center
from caseflow.errors import DomainError, ValidationFailed
from caseflow.extensions import db
from caseflow.models import Case, DutyLogEntry, Handover, Instruction, Person
from caseflow.models.duty import LOG_TYPES
from caseflow.services.duty import handover, log
from caseflow.services.duty.common import DUTY_ROLES, current_shift, local
from caseflow.services.duty.notices import center_leaders
from caseflow.services.duty.open_items import final_states
from caseflow.services.duty.rota import shift_rule
from caseflow.workflow.engine import WorkflowCatalog, get_catalog

from .console_forms import choice, flag, new_form_token, text, whole
from .duty_forms import center_for, centers, local_time, run_once
from .duty_modes import back_to_watch, modes_context
from .duty_modes import bp as modes_bp
from .duty_rota import bp as rota_bp
from .duty_rota import rota_context
from .guards import DUTY_WATCH_ROLES, login_required, safe_next
from .i18n import current_language, t
from .work import me

bp = Blueprint("duty_console", __name__, url_prefix="/duty/watch")
bp.register_blueprint(modes_bp)
bp.register_blueprint(rota_bp)
bp.add_app_template_global(new_form_token, "form_token")

DUTY = list(DUTY_ROLES)
# Leaders and administrators read the watch and act on emergency mode, swaps and special periods.
WATCH_ROLES = sorted(DUTY_WATCH_ROLES)
LOG_SHOWN = 50
OPEN_INSTRUCTIONS_SHOWN = 100


def log_refs(session: Session, entries: list[DutyLogEntry]) -> dict[str, dict[int, str]]:
    """Names and numbers the log table shows (people, linked cases and instructions), three
    queries for the whole page."""
    people = {i for e in entries for i in (e.recorded_by_id, e.reported_to_id, e.answered_by_id) if i}
    cases = {e.case_id for e in entries if e.case_id}
    instructions = {e.instruction_id for e in entries if e.instruction_id}
    out: dict[str, dict[int, str]] = {"people": {}, "cases": {}, "instructions": {}}
    if people:
        out["people"] = dict(session.execute(select(Person.id, Person.full_name).where(Person.id.in_(people))).all())
    if cases:
        out["cases"] = dict(session.execute(select(Case.id, Case.number).where(Case.id.in_(cases))).all())
    if instructions:
        out["instructions"] = dict(session.execute(
            select(Instruction.id, Instruction.number).where(Instruction.id.in_(instructions))).all())
    return out


def open_instructions(session: Session, catalog: WorkflowCatalog, center_id: int) -> list[Instruction]:
    """The center's instructions not yet closed, newest first, for linking a log entry."""
    finals = final_states(session, catalog, Instruction)
    query, center = with_center(select(Instruction), Instruction)
    return list(session.execute(query.where(Instruction.state.not_in(finals or {""}), in_center(center, center_id))
                                .order_by(Instruction.id.desc()).limit(OPEN_INSTRUCTIONS_SHOWN)).scalars())


@bp.get("/")
@login_required(roles=WATCH_ROLES)
def watch() -> str:
    """The center's shift on duty, emergency mode, the rota and swaps, special periods, the log
    and (while handing over) the checklist."""
    person, _ = me()
    session = db.session()
    center_id = center_for(person)
    roles = set(person.roles)
    shift = current_shift(session, center_id) if center_id else None
    h = None
    if shift is not None:
        h = session.execute(select(Handover).where(Handover.outgoing_shift_id == shift.id)).scalar_one_or_none()
    entries = log.entries(session, center_id, limit=LOG_SHOWN) if center_id else []
    # A holiday / special-period / emergency shift says so, with its minimum and leader on shift.
    rule = shift_rule(session, shift) if shift is not None else None
    leader = session.get(Person, shift.leader_on_shift_id) if shift is not None and shift.leader_on_shift_id else None
    items = handover.items(session, h.id) if h else []
    writes_log = bool(roles & set(DUTY_ROLES))
    lang = current_language()
    catalog = get_catalog()
    shift_states = {s: catalog.latest("duty_shift").label(s, lang) for s in catalog.latest("duty_shift").states}
    return render_template(
        "duty/watch.html", shift=shift, handover=h, items=items, groups=handover.grouped_items(items),
        entries=entries, refs=log_refs(session, entries), log_types=LOG_TYPES, local=local,
        kind_labels=handover.KIND_LABELS, me=person, rule=rule, leader=leader, center_id=center_id,
        centers=centers() if not person.center_id else [], writes_log=writes_log, shift_states=shift_states,
        handover_label=catalog.definition(h.workflow, h.workflow_version).label(h.state, lang) if h else "",
        leaders=center_leaders(session, center_id) if center_id and writes_log else [],
        instructions=open_instructions(session, catalog, center_id) if center_id and writes_log else [],
        **modes_context(session, center_id, roles), **rota_context(session, center_id, person, roles),
    )


def _to_log(center_id: int | None) -> Response:
    """Back where the form came from (``next``, e.g. the duty landing page), else the watch's log."""
    target = safe_next(request.form.get("next"))
    return redirect(target) if target else back_to_watch(center_id, "log")


@bp.post("/log")
@login_required(roles=DUTY)
def add_entry() -> Response:
    """Write one log entry from the form: its type's fields, the time a roll call was made or an
    urgent document received, and a link to a case or an instruction."""
    person, actor = me()
    center_id = center_for(person)

    def call() -> Any:
        if center_id is None:
            raise ValidationFailed(t("duty.no_center"))
        kind = choice("type", LOG_TYPES)
        asked_at, received_at = local_time("asked_at"), local_time("received_at")
        if asked_at is not None and kind != "roll_call":
            raise ValidationFailed(t("duty.error.only_roll_call"), field="asked_at")
        if received_at is not None and kind != "urgent_document":
            raise ValidationFailed(t("duty.error.only_urgent_document"), field="received_at")
        return log.record(
            db.session(), get_catalog(), center_id, kind, actor=actor, summary=text("summary"),
            contact=text("contact", max_len=120), asked=text("asked"), explained=text("explained"),
            guided_to=text("guided_to", max_len=200), flagged=flag("flagged"),
            case_id=text("case_id", max_len=40) or None, instruction_id=text("instruction_id", max_len=40) or None,
            asked_at=asked_at, received_at=received_at)

    return run_once(call, t("flash.done.log.record"), lambda _r: _to_log(center_id))


@bp.post("/log/<int:entry_id>/answer")
@login_required(roles=DUTY)
def answer(entry_id: int) -> Response:
    """Answer a roll call."""
    person, actor = me()
    return run_once(lambda: log.answer_roll_call(db.session(), get_catalog(), entry_id, actor=actor),
                    t("flash.done.log.answer"), lambda _r: _to_log(center_for(person)))


@bp.post("/log/<int:entry_id>/report")
@login_required(roles=DUTY)
def report_document(entry_id: int) -> Response:
    """An urgent document was reported to a principal leader (to whom, when) with the leader's direction."""
    person, actor = me()

    def call() -> Any:
        return log.report_urgent_document(db.session(), entry_id, whole("reported_to_id", required=True),
                                          text("direction", required=True), actor=actor,
                                          reported_at=local_time("reported_at"))

    return run_once(call, t("flash.done.log.report"), lambda _r: _to_log(center_for(person)))


@bp.post("/log/<int:entry_id>/done")
@login_required(roles=DUTY)
def done_document(entry_id: int) -> Response:
    """The urgent document was done as the leader directed: how."""
    person, actor = me()

    def call() -> Any:
        return log.complete_urgent_document(db.session(), entry_id, text("done_note", required=True), actor=actor)

    return run_once(call, t("flash.done.log.done"), lambda _r: _to_log(center_for(person)))


def _to_checklist() -> Response:
    return redirect(url_for("duty_console.watch") + "#handover")


@bp.post("/handovers/<int:handover_id>/items/<int:item_id>/<any(accept, dispute):verdict>")
@login_required(roles=["duty_lead"])
def review(handover_id: int, item_id: int, verdict: str) -> Response:
    """The incoming lead accepts or disputes one checklist item."""
    _, actor = me()

    def call() -> Any:
        if verdict == "accept":
            return handover.accept_item(db.session(), get_catalog(), handover_id, item_id, actor=actor,
                                        note=text("note"))
        return handover.dispute_item(db.session(), get_catalog(), handover_id, item_id, text("note", required=True),
                                     actor=actor)

    return run_once(call, t("flash.done.handover." + verdict), lambda _r: _to_checklist())


@bp.post("/handovers/<int:handover_id>/accept-all")
@login_required(roles=["duty_lead"])
def accept_all(handover_id: int) -> Response:
    """The incoming lead accepts every undisputed item (of one kind when ``kind`` is given)."""
    _, actor = me()

    def call() -> Any:
        kind = choice("kind", list(handover.KIND_LABELS), required=False) or None
        return handover.accept_all(db.session(), get_catalog(), handover_id, actor=actor, kind=kind,
                                   note=text("note"))

    return run_once(call, t("flash.done.handover.accept_all"), lambda _r: _to_checklist())


@bp.get("/handovers/<int:handover_id>/print")
@login_required(roles=["duty_lead", "duty_officer", "leader", "admin"])
def print_handover(handover_id: int) -> str:
    """The handover record, read-only, with a print stylesheet."""
    try:
        view = handover.print_view(db.session(), get_catalog(), handover_id)
    except DomainError:
        abort(404)
    return render_template("duty/handover_print.html", **view)
