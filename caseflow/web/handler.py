"""The handler's work (处置部门), made for a phone: my department's cases and instructions, sign,
arrival report, result with photos from the camera, and a request to return a misrouted case.
The lead department asks the dispatcher for more time (延期, with a duration) or to defer the
case (缓办/挂账), sees the request's state and may withdraw it while undecided (撤回申请); a
department in joint handling applies to bring in more departments (申请联合处置). These requests
are done once however often the form is sent.
A co-operating department (协办) of a complex or joint case signs for and reports on its own part.
For an instruction that is not the unit's (or not the bureau's), the unit asks the liaison to
transfer it or explain to 110 (申请移交, with a reason and a basis), as a case's return request.
The landing page also lists the escalations the person was told about, to acknowledge.

The list is ``pages.handler`` (/handler, :func:`work_context`); each item opens its own page
here. Another department's item is "not found" (404, and the attempt is kept for audit), the
same answer the API gives.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, make_response, render_template, request
from sqlalchemy import or_, select
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from caseflow.errors import DomainError, PayloadTooLarge, ValidationFailed
from caseflow.extensions import db
from caseflow.models import (
    Attachment,
    Case,
    CaseParticipant,
    Department,
    Instruction,
    ReturnRequest,
    WorkflowItem,
    utcnow,
)
from caseflow.security.actor import Actor
from caseflow.services import attachments
from caseflow.services import instructions as ins_svc
from caseflow.services import regulations, returns
from caseflow.services.active_records import offered
from caseflow.services.cases import extension, handling, supervision
from caseflow.services.escalation_views import console_runs
from caseflow.workflow.engine import get_catalog
from caseflow.workflow.instruction_transfer_actions import open_request as open_transfer_request
from caseflow.workflow.instruction_transfer_actions import requests_of

from . import return_form
from .console_forms import duration, submit_once, whole_list
from .console_forms import text as form_text
from .dispatch_case import stamped
from .guards import login_required
from .i18n import t
from .leader import escalation_rows
from .work import attempt, back, me, number, text

bp = Blueprint("handler_console", __name__, url_prefix="/handler")

ROLES = ["handler"]
MAX_PHOTOS = 6


def _triggers(item: WorkflowItem, actor: Actor) -> set[str]:
    definition = get_catalog().definition(item.workflow, item.workflow_version)
    return {tr.trigger for tr in definition.triggers_from(item.state) if set(tr.roles) & actor.roles}


def work_context() -> dict[str, Any]:
    """The open cases and instructions of the handler's department (and cases it takes part in),
    and the escalations the person was told about."""
    from .pages import open_filter, rows_for

    person, _ = me()
    dept_id = person.department_id
    cases: list[Any] = []
    instructions: list[Any] = []
    if dept_id is not None:
        part = select(CaseParticipant.case_id).where(CaseParticipant.department_id == dept_id,
                                                     CaseParticipant.state != "withdrawn")
        cases = rows_for(list(db.session.execute(
            select(Case).where(or_(Case.department_id == dept_id, Case.id.in_(part)), open_filter(Case))
            .order_by(Case.reported_at.desc()).limit(200)
        ).scalars()))
        instructions = rows_for(list(db.session.execute(
            select(Instruction).where(Instruction.department_id == dept_id, open_filter(Instruction))
            .order_by(Instruction.received_at.desc()).limit(200)
        ).scalars()), prefer="arrival")
    department = db.session.get(Department, dept_id) if dept_id else None
    # Escalations this person was told about (a unit head, a group leader), with the acknowledge
    # button, as on the duty and leader pages.
    mine = escalation_rows(console_runs(db.session(), utcnow(), told=person.id))
    return {"cases": cases, "instructions": instructions, "department": department, "my_escalations": mine}


def _visible(item_type: str, item_id: int, action: str) -> Any:
    """The item when it is the handler's department's; 404 otherwise (audited by the service)."""
    _, actor = me()
    try:
        return attachments.visible_item(db.session(), item_type, item_id, actor, action)
    except DomainError:
        abort(404)


def _evidence(item_type: str, item_id: int) -> list[Attachment]:
    return list(db.session.execute(
        select(Attachment).where(Attachment.item_type == item_type, Attachment.item_id == item_id)
        .order_by(Attachment.id)
    ).scalars())


def _page(template: str, item: Any, item_type: str, **extra: Any) -> str:
    from .pages import rows_for

    _, actor = me()
    row = rows_for([item], prefer="arrival" if item_type == "instruction" else None)[0]
    total = None
    if row.deadline is not None:
        total = (row.deadline.due_at - row.deadline.armed_at).total_seconds()
    # The departments a return or transfer request may suggest: active ones only.
    departments = offered(db.session(), Department)
    return render_template(template, item=item, row=row, total=total, triggers=_triggers(item, actor),
                           evidence=_evidence(item_type, item.id), departments=departments,
                           max_photos=MAX_PHOTOS, **extra)


def own_part(parts: list[CaseParticipant], department_id: int | None) -> CaseParticipant | None:
    """The department's (not withdrawn) part in a case, if it takes part."""
    return next((p for p in parts if department_id is not None and p.department_id == department_id
                 and p.state != "withdrawn"), None)


@bp.get("/cases/<int:case_id>")
@login_required(roles=ROLES)
def case(case_id: int) -> str:
    """One case of my department (lead or co-operating), with the steps I can take now.

    The lead (holding) department signs for and reports on the case; a co-operating
    department (协办) signs for and reports on its own part only.
    """
    return _case_page(_visible("case", case_id, "open case page"))


def _case_page(item: Case, kept: dict[str, Any] | None = None, refused: DomainError | None = None) -> Any:
    """The case page; after a refused return request, with what was typed and the refusal's status."""
    _, actor = me()
    parts = handling.participants(db.session(), item.id)
    page = _page("handler/case.html", item, "case", parts=parts, my_part=own_part(parts, actor.department_id),
                 is_lead=actor.department_id is not None and actor.department_id == item.department_id,
                 supervisions=supervision.supervisions(db.session(), item.id), **request_state(item),
                 **return_form.context(db.session(), item, kept, refused))
    return (page, refused.status) if refused is not None else page


def request_state(case: Case) -> dict[str, Any]:
    """What the case page shows of the department's requests: the extension or deferral waiting
    for the dispatcher, the last one decided, whether the case is deferred, and the joint-handling
    application waiting for the center and the last one approved (all kept in ``case.data``)."""
    data = dict(case.data or {})
    decided = [r for r in data.get("requests") or [] if r.get("decision")]
    last = dict(decided[-1]) if decided else None
    if last is not None:
        last["decided"] = stamped({"at": last.get("decided_at")})
    joint = data.get("joint_decisions") or []
    return {"pending_request": stamped(data.get("pending_request")), "last_request": last,
            "deferred": bool(data.get("deferred")), "joint_application": stamped(data.get("joint_application")),
            "joint_decision": stamped(joint[-1]) if joint else None}


@bp.get("/instructions/<int:item_id>")
@login_required(roles=ROLES)
def instruction(item_id: int) -> str:
    """One instruction sent to my department, with the steps I can take now."""
    item = _visible("instruction", item_id, "open instruction page")
    return _page("handler/instruction.html", item, "instruction", transfer_requests=requests_of(item),
                 open_transfer=open_transfer_request(item), regulations=regulations.listing(db.session()))


def _photos(name: str = "photo") -> list[FileStorage]:
    """The uploaded photos or files of field ``name`` (empty file fields are skipped: the camera
    was not used)."""
    try:
        files = [f for f in request.files.getlist(name) if f and f.filename]
    except RequestEntityTooLarge:
        raise PayloadTooLarge("the files are larger than the upload limit", field=name) from None
    if len(files) > MAX_PHOTOS:
        raise ValidationFailed(f"at most {MAX_PHOTOS} files at once", field=name)
    return files


def _store_photos(item_type: str, item_id: int, actor: Actor) -> list[str]:
    """Store each photo through the attachments service; the references go into the report."""
    refs = []
    for upload in _photos():
        row = attachments.store(db.session(), item_type=item_type, item_id=item_id, actor=actor,
                                filename=upload.filename, stream=upload.stream)
        refs.append(f"attachment:{row.id}")
    return refs


@bp.post("/cases/<int:case_id>/<any(sign, result, 'sign-part', 'report-part'):action>")
@login_required(roles=ROLES)
def case_action(case_id: int, action: str) -> Response:
    """Sign for a case or report its result (with photos); a co-operating department signs for
    its part and reports its part's result (with photos)."""
    _visible("case", case_id, f"case {action}")
    _, actor = me()
    session, catalog = db.session(), get_catalog()

    def call() -> Any:
        if action == "sign":
            return handling.sign(session, catalog, case_id, actor=actor, comment=text("comment", max_len=2000))
        if action == "sign-part":
            return handling.sign_part(session, catalog, case_id, actor=actor, comment=text("comment", max_len=2000))
        if action == "report-part":
            result = text("part_result", required=True)
            refs = _store_photos("case", case_id, actor)
            return handling.report_part(session, catalog, case_id, actor=actor, result=result, evidence_refs=refs)
        result = text("result", required=True)
        # Photos first: the report names them. A refused report leaves them as evidence on the case.
        refs = _store_photos("case", case_id, actor)
        return handling.report_result(session, catalog, case_id, actor=actor, result=result, evidence_refs=refs)

    attempt(call, t("flash.done.handler." + action))
    return back("handler_console.case", case_id=case_id)


@bp.post("/cases/<int:case_id>/return")
@login_required(roles=ROLES)
def case_return(case_id: int) -> Any:
    """Ask to return a misrouted case (申请退单, :mod:`.return_form`): done once per form; a refusal
    shows the page again with what was typed, the problem naming the field, and its status."""
    item = _visible("case", case_id, "case return")
    _, actor = me()
    stored: list[int] = []  # files stored before a refusal: ticked on the form shown again
    refused: list[DomainError] = []

    def call() -> Any:
        try:
            return return_form.submit(db.session(), case_id, actor, _photos(return_form.FILES), stored)
        except DomainError as exc:
            refused.append(exc)
            raise

    def done(result: Any) -> Any:
        if result is not None or not refused:  # done, or a repeat of a form already sent
            return back("handler_console.case", case_id=case_id)
        return make_response(_case_page(item, return_form.typed(stored), refused[0]))

    return submit_once(call, t("flash.done.handler.return"), done)


@bp.post("/cases/<int:case_id>/return/<int:request_id>/withdraw")
@login_required(roles=ROLES)
def case_return_withdraw(case_id: int, request_id: int) -> Response:
    """Take back the department's waiting return request (撤回退单申请); the case's clock resumes.
    The returns service decides whether this person may (the department that asked)."""
    _visible("case", case_id, "case return withdraw")
    _, actor = me()
    rr = db.session.get(ReturnRequest, request_id)
    if rr is None or rr.case_id != case_id:
        abort(404)
    attempt(lambda: returns.withdraw(db.session(), get_catalog(), request_id, actor),
            t("flash.done.handler.withdraw-return"))
    return back("handler_console.case", case_id=case_id)


@bp.post("/cases/<int:case_id>/<any('request-extension', 'request-deferral', 'withdraw-request', "
         "'apply-joint'):action>")
@login_required(roles=ROLES)
def case_request(case_id: int, action: str) -> Response:
    """Ask for an extension (延期: duration and reason) or a deferral (缓办/挂账: reason), withdraw
    the one still waiting for the dispatcher (撤回申请: the department that asked, optional reason),
    or apply for joint handling (联合处置: reason, the departments suggested); done once per form."""
    _visible("case", case_id, f"case {action}")
    _, actor = me()
    session, catalog = db.session(), get_catalog()

    def call() -> Any:
        if action == "request-extension":
            length = duration("duration", required=True)
            assert length is not None
            return extension.request_extension(session, catalog, case_id, actor=actor, duration=length,
                                               reason=form_text("reason", required=True))
        if action == "request-deferral":
            return extension.request_deferral(session, catalog, case_id, actor=actor,
                                              reason=form_text("reason", required=True))
        if action == "withdraw-request":
            return extension.withdraw_request(session, catalog, case_id, actor=actor, reason=form_text("reason"))
        return handling.apply_joint_handling(session, catalog, case_id, actor=actor,
                                             reason=form_text("reason", required=True),
                                             department_ids=whole_list("department_ids") or None)

    return submit_once(call, t("flash.done.handler." + action),
                       lambda _result: back("handler_console.case", case_id=case_id))


@bp.post("/instructions/<int:item_id>/<any(arrive, delay, result, transfer, 'withdraw-transfer', 'not-ours', "
         "'keep-order'):action>")
@login_required(roles=ROLES)
def instruction_action(item_id: int, action: str) -> Response:
    """Report arrival on site, explain a delay, or report the result (with photos); ask the liaison
    to transfer the instruction or explain to 110 (申请移交, with a reason and a basis) or withdraw
    that request; on site, report it is not the bureau's and keep order."""
    _visible("instruction", item_id, f"instruction {action}")
    _, actor = me()
    session, catalog = db.session(), get_catalog()

    def call() -> Any:
        if action == "arrive":
            return ins_svc.arrive(session, catalog, item_id, actor=actor, situation=text("situation", required=True),
                                  place=text("place", max_len=200))
        if action == "delay":
            return ins_svc.explain_delay(session, catalog, item_id, actor=actor, reason=text("reason", required=True))
        if action == "transfer":
            return ins_svc.request_transfer(
                session, catalog, item_id, actor=actor, reason=text("reason", required=True), basis=text("basis"),
                basis_ref_id=number("basis_ref_id"), suggested_department_id=number("suggested_department_id"),
                kind=text("kind", max_len=20) or "other_unit")
        if action == "withdraw-transfer":
            return ins_svc.withdraw_transfer_request(session, catalog, item_id, actor=actor)
        if action == "not-ours":
            return ins_svc.report_not_ours(session, catalog, item_id, actor=actor,
                                           explanation=text("explanation", required=True))
        if action == "keep-order":
            return ins_svc.keep_order(session, catalog, item_id, actor=actor, note=text("note", required=True),
                                      responsible_arrived=request.form.get("responsible_arrived") == "1")
        result = text("result", required=True)
        _store_photos("instruction", item_id, actor)
        return ins_svc.report_result(session, catalog, item_id, actor=actor, result=result,
                                     place=text("place", max_len=200))

    attempt(call, t("flash.done.handler." + action))
    return back("handler_console.instruction", item_id=item_id)
