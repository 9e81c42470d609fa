"""The dispatcher's inbox (受理派遣): review reported cases (register, correcting category and
grid and marking them urgent / verify / void / merge a duplicate), dispatch registered ones to
the suggested department (a complex case with co-operating departments, 协办) or report a
difficult one up to the district center (上报区城运中心), add co-operating departments while a
complex case is handled, decide extension and deferral requests, check results (pass / fail),
supervise slow departments or dispatch a second time, review return requests, archive closed
cases and record callbacks.

The page is ``pages.dispatch`` (/dispatch) rendering :func:`inbox_context`; each case also has
its own page here (/dispatch/cases/<id>, :mod:`caseflow.web.dispatch_case`) with every step the
dispatcher may take on it. The forms post here; each is done once however often it is sent.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from caseflow.errors import ValidationFailed
from caseflow.extensions import db
from caseflow.models import (
    TIERS,
    Case,
    Category,
    Department,
    LedgerEntry,
    ReturnRequest,
    Supervision,
    utcnow,
)
from caseflow.models.case_parts import SUPERVISION_METHODS
from caseflow.security.actor import Actor
from caseflow.services import returns
from caseflow.services.active_records import offered, offered_grids
from caseflow.services.cases import (
    closing,
    duplicates,
    extension,
    handling,
    reclassify,
    review,
    supervision,
    tiers,
    urgent,
)
from caseflow.workflow.case_actions import VOID_REASONS
from caseflow.workflow.engine import WorkflowCatalog, get_catalog

from .console_forms import choice, duration, flag, new_form_token, submit_once, text, whole, whole_list
from .dispatch_case import PUBLIC_STEPS, dispatcher_triggers, takes_parts
from .guards import login_required
from .i18n import t
from .work import back, local_time, me

bp = Blueprint("dispatch_console", __name__, url_prefix="/dispatch")
bp.add_app_template_global(new_form_token, "form_token")

ROLES = ["dispatcher"]
REVIEW_STATES = ("reported", "verifying")
GRADES = (5, 4, 3, 2, 1)  # callback satisfaction, best first: 1-2 unsatisfied (may reopen)
HANDLING_STATES = ("dispatched", "handling")


REQUEST_STATES = ("handling", "joint_handling")  # where a handler asks for more time or a deferral
LIMIT = 200


def _cases(states: tuple[str, ...], *where: Any) -> list[Any]:
    from .pages import rows_for

    items = list(db.session.execute(
        select(Case).where(Case.state.in_(states), *where).order_by(Case.reported_at.desc()).limit(LIMIT)
    ).scalars())
    return rows_for(items)


def pending_request_clause() -> Any:
    """SQL: an extension or deferral request awaits the dispatcher's decision."""
    return Case.data[("pending_request", "kind")].as_string().in_(("extension", "deferral"))


def latest_results(case_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The last reported result (text and evidence) of each case, from its ledger."""
    if not case_ids:
        return {}
    out: dict[int, dict[str, Any]] = {}
    rows = db.session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "case", LedgerEntry.item_id.in_(case_ids), LedgerEntry.trigger == "report_result",
    ).order_by(LedgerEntry.seq)).scalars()
    for entry in rows:
        payload = entry.payload or {}
        out[entry.item_id] = {"text": payload.get("result", ""), "evidence_refs": payload.get("evidence_refs") or []}
    return out


def last_supervisions(case_ids: list[int]) -> dict[int, Supervision]:
    """The latest supervision (督办) of each case, to show what was required and by when."""
    if not case_ids:
        return {}
    rows = db.session.execute(select(Supervision).where(Supervision.case_id.in_(case_ids))
                              .order_by(Supervision.at, Supervision.id)).scalars()
    return {row.case_id: row for row in rows}  # later rows overwrite earlier ones


def choices(cases: Iterable[Case] = ()) -> dict[str, Any]:
    """What the dispatcher's forms choose from: active departments and categories, grids of active
    areas (plus the category and grid ``cases`` already have, so their forms show them as they
    are), tiers, reasons."""
    cases = list(cases)
    session = db.session()
    return {
        "departments": offered(session, Department),
        "categories": offered(session, Category, keep_ids=[c.category_id for c in cases]),
        "grids": offered_grids(session, keep_ids=[c.grid_id for c in cases]),
        "tiers": TIERS, "void_reasons": VOID_REASONS, "methods": SUPERVISION_METHODS, "grades": GRADES,
    }


def inbox_context() -> dict[str, Any]:
    """The queues of the inbox: review, to dispatch, requests to decide, return requests, to check,
    in handling, closed (to archive or call back)."""
    pending_returns = list(db.session.execute(
        select(ReturnRequest).where(ReturnRequest.state == "requested").order_by(ReturnRequest.id)
    ).scalars())
    checking = _cases(("checking",))
    handling_rows = _cases(HANDLING_STATES)
    review_rows = _cases(REVIEW_STATES)
    to_dispatch = _cases(("registered",))
    # Which step each registered or handled case takes is its workflow's: dispatch (with
    # co-operating departments when it assigns parts) or escalation; adding departments.
    steps = {r.item.id: dispatcher_triggers(r.item) for r in (*to_dispatch, *handling_rows)}
    return {
        "review": review_rows, "to_dispatch": to_dispatch, "checking": checking,
        "steps": steps, "takes_parts": {r.item.id: takes_parts(r.item) for r in to_dispatch},
        "results": latest_results([r.item.id for r in checking]),
        "handling": handling_rows, "supervised": last_supervisions([r.item.id for r in handling_rows]),
        "requests": _cases(REQUEST_STATES, pending_request_clause()), "closed": _cases(("closed",)),
        "returns": pending_returns, "now": utcnow(), **choices(r.item for r in review_rows),
    }


# Steps from the inbox and from a case's page. Each reads its fields (messages name the field)
# and calls the case service the API calls for the same step.
Step = Callable[[Session, WorkflowCatalog, int, Actor, str], Any]


def _register(s: Session, c: WorkflowCatalog, case_id: int, actor: Actor, comment: str) -> Any:
    """Register (立案), first correcting the category and grid when the form changed them, and
    marking the case urgent (紧急) when the form says so (its commanders are told at once)."""
    category_id, grid_id = whole("category_id"), whole("grid_id")
    make_urgent, urgent_reason = flag("urgent"), text("urgent_reason")
    if category_id is not None or grid_id is not None:
        reclassify.reclassify(s, case_id, actor=actor, category_id=category_id, grid_id=grid_id,
                              reason=text("reclassify_reason"))
    if make_urgent:  # the service writes nothing when the case is urgent already
        urgent.set_urgent(s, c, case_id, actor=actor, urgent=True, reason=urgent_reason)
    return review.register(s, c, case_id, actor=actor, comment=comment)


def _dispatch(s: Session, c: WorkflowCatalog, case_id: int, actor: Actor, comment: str) -> Any:
    """Dispatch to the lead department, with co-operating departments (协办) when the case's
    workflow assigns parts (a complex case); elsewhere choosing them is refused, not dropped."""
    department_id = whole("department_id", required=True)
    cooperating = whole_list("cooperating_department_ids")
    if cooperating:
        case = s.get(Case, case_id)
        if case is not None and not takes_parts(case):
            raise ValidationFailed(t("dispatch.error.no_parts"), field="cooperating_department_ids")
    return handling.dispatch(s, c, case_id, actor=actor, department_id=department_id,
                             cooperating_department_ids=cooperating or None, comment=comment)


def _add_cooperating(s: Session, c: WorkflowCatalog, case_id: int, actor: Actor, comment: str) -> Any:
    ids = whole_list("department_ids")
    if not ids:
        raise ValidationFailed(t("form.choose"), field="department_ids")
    return handling.add_cooperating(s, c, case_id, actor=actor, department_ids=ids, comment=comment)


def _set_urgent(value: bool) -> Step:
    """Mark the case urgent (with an optional reason) or take the flag off (a reason is needed)."""
    def step(s: Session, c: WorkflowCatalog, case_id: int, actor: Actor, comment: str) -> Any:
        reason = text("reason", required=not value)
        case = s.get(Case, case_id)
        if case is not None and case.urgent == value:  # a page older than the flag: say so
            raise ValidationFailed(t("dispatch.error.urgent_already" if value else "dispatch.error.not_urgent"),
                                   field="urgent")
        return urgent.set_urgent(s, c, case_id, actor=actor, urgent=value, reason=reason, comment=comment)
    return step


def _reclassify(s: Session, c: WorkflowCatalog, case_id: int, actor: Actor, comment: str) -> Any:
    category_id, grid_id = whole("category_id"), whole("grid_id")
    if category_id is None and grid_id is None:
        raise ValidationFailed(t("form.choose"), field="category_id")
    return reclassify.reclassify(s, case_id, actor=actor, category_id=category_id, grid_id=grid_id,
                                 reason=text("reason"), comment=comment)


def _merge(s: Session, c: WorkflowCatalog, case_id: int, actor: Actor, comment: str) -> Any:
    """Merge this case, a duplicate, into the original named by number (or id)."""
    original = original_case(s, case_id, text("original", required=True, max_len=40))
    return duplicates.merge(s, c, case_id, original.id, actor=actor, comment=comment)


def _change_tier(s: Session, c: WorkflowCatalog, case_id: int, actor: Actor, comment: str) -> Any:
    tier = choice("tier", TIERS)
    case = s.get(Case, case_id)
    if case is not None and case.tier == tier:
        raise ValidationFailed(t("dispatch.error.same_tier"), field="tier")
    return tiers.change_tier(s, c, case_id, actor=actor, tier=tier, reason=text("reason", required=True),
                             comment=comment)


def _redispatch(s: Session, c: WorkflowCatalog, case_id: int, actor: Actor, comment: str) -> Any:
    department_id = whole("department_id", required=True)
    case = s.get(Case, case_id)
    if case is not None and case.department_id == department_id:
        raise ValidationFailed(t("dispatch.error.same_department"), field="department_id")
    return handling.redispatch(s, c, case_id, actor=actor, department_id=department_id,
                               reason=text("reason", required=True), comment=comment)


STEPS: dict[str, Step] = {
    "register": _register,
    "verify": lambda s, c, i, a, m: review.verify_report(s, c, i, actor=a, question=text("question", required=True),
                                                         comment=m),
    "void": lambda s, c, i, a, m: review.void(s, c, i, actor=a, reason=choice("reason", VOID_REASONS),
                                              note=text("note"), comment=m),
    "dispatch": _dispatch,
    "add-cooperating": _add_cooperating,
    "escalate": lambda s, c, i, a, m: handling.escalate_to_district(s, c, i, actor=a,
                                                                    reason=text("reason", required=True), comment=m),
    "mark-urgent": _set_urgent(True),
    "clear-urgent": _set_urgent(False),
    "check-pass": lambda s, c, i, a, m: closing.check_pass(s, c, i, actor=a, opinion=text("opinion"), comment=m),
    "check-fail": lambda s, c, i, a, m: closing.check_fail(s, c, i, actor=a, reason=text("reason", required=True),
                                                           comment=m),
    "supervise": lambda s, c, i, a, m: supervision.supervise(
        s, c, i, actor=a, method=choice("method", SUPERVISION_METHODS), requirement=text("requirement", required=True),
        due_by=local_time("due_by"), comment=m),
    "reclassify": _reclassify,
    "merge": _merge,
    "change-tier": _change_tier,
    "redispatch": _redispatch,
    "approve-extension": lambda s, c, i, a, m: extension.approve_extension(
        s, c, i, actor=a, reason=text("reason", required=True), duration=duration("duration"), comment=m),
    "reject-extension": lambda s, c, i, a, m: extension.reject_extension(
        s, c, i, actor=a, reason=text("reason", required=True), comment=m),
    "approve-deferral": lambda s, c, i, a, m: extension.approve_deferral(
        s, c, i, actor=a, reason=text("reason", required=True), comment=m),
    "reject-deferral": lambda s, c, i, a, m: extension.reject_deferral(
        s, c, i, actor=a, reason=text("reason", required=True), comment=m),
    "resume": lambda s, c, i, a, m: extension.resume(s, c, i, actor=a, reason=text("reason", required=True),
                                                     comment=m),
    "archive": lambda s, c, i, a, m: closing.archive(s, c, i, actor=a, opinion=text("opinion"), comment=m),
    "callback": lambda s, c, i, a, m: closing.callback(s, c, i, actor=a, grade=whole("grade", required=True, high=5),
                                                       note=text("note"), comment=m),
}
STEPS.update(PUBLIC_STEPS)  # show or hide the case on Open311 (caseflow/web/dispatch_case.py)
CASE_ACTIONS = tuple(STEPS)


def original_case(session: Session, case_id: int, ref: str) -> Case:
    """The case a duplicate is merged into, by its number (C2025...) or id; refusals name ``original``."""
    found = None
    if ref.isdigit():
        found = session.get(Case, int(ref))
    if found is None:
        found = session.execute(select(Case).where(Case.number == ref.upper())).scalar_one_or_none()
    if found is None:
        raise ValidationFailed(t("dispatch.error.no_such_case", ref=ref), field="original")
    if found.id == case_id:
        raise ValidationFailed(t("dispatch.error.merge_self"), field="original")
    duplicate = session.get(Case, case_id)
    if duplicate is not None and duplicate.category_id != found.category_id:
        raise ValidationFailed(t("dispatch.error.merge_category", number=found.number), field="original")
    if found.state == "voided":
        raise ValidationFailed(t("dispatch.error.merge_void", number=found.number), field="original")
    return found


@bp.post("/cases/<int:case_id>/<any(register, verify, void, dispatch, 'check-pass', 'check-fail', supervise, "
         "reclassify, merge, 'change-tier', redispatch, 'approve-extension', 'reject-extension', "
         "'approve-deferral', 'reject-deferral', resume, archive, callback, publish, unpublish, 'add-cooperating', "
         "escalate, 'mark-urgent', 'clear-urgent'):action>")
@login_required(roles=ROLES)
def case_action(case_id: int, action: str) -> Response:
    """One step on a case from the inbox or the case's page, through the case services.

    Done once per form (a double submit does not repeat it); back to the form's page.
    """
    _, actor = me()
    session, catalog = db.session(), get_catalog()

    def call() -> Any:
        return STEPS[action](session, catalog, case_id, actor, text("comment", max_len=2000))

    return submit_once(call, t("flash.done.case." + action), lambda _result: back("pages.dispatch"))


@bp.get("/cases/<int:case_id>")
@login_required(roles=ROLES)
def case(case_id: int) -> str:
    """One case with everything the dispatcher decides on it: review and reclassification, merge,
    tier, second dispatch, extension and deferral requests, archive and callback."""
    from .dispatch_case import case_context

    return render_template("dispatch/case.html", **case_context(case_id))


@bp.post("/returns/<int:request_id>/<any(approve, reject):verdict>")
@login_required(roles=ROLES)
def return_verdict(request_id: int, verdict: str) -> Response:
    """Approve or reject a department's request to return a case."""
    _, actor = me()
    session, catalog = db.session(), get_catalog()

    def call() -> Any:
        if verdict == "approve":
            return returns.approve(session, catalog, request_id, actor, department_id=whole("department_id"))
        return returns.reject(session, catalog, request_id, actor, text("reason", required=True))

    return submit_once(call, t("flash.done.return." + verdict), lambda _result: back("pages.dispatch"))
