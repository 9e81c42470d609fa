"""The dispatcher's inbox (受理派遣): review reported cases (register / verify / void), dispatch
registered ones to the suggested department, check results (pass / fail), supervise slow
departments, and review return requests when that capability is installed.

The page is ``pages.dispatch`` (/dispatch) rendering :func:`inbox_context`; the forms post here.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import select
from werkzeug.wrappers import Response

from caseflow.extensions import db
from caseflow.models import Case, Department, LedgerEntry, ReturnRequest, Supervision, utcnow
from caseflow.models.case_parts import SUPERVISION_METHODS
from caseflow.services.cases import closing, handling, review, supervision
from caseflow.workflow.case_actions import VOID_REASONS
from caseflow.workflow.engine import get_catalog

from .guards import login_required
from .i18n import t
from .work import attempt, back, local_time, me, number, returns_service, text

bp = Blueprint("dispatch_console", __name__, url_prefix="/dispatch")

ROLES = ["dispatcher"]
REVIEW_STATES = ("reported", "verifying")
HANDLING_STATES = ("dispatched", "handling")


def _cases(states: tuple[str, ...]) -> list[Any]:
    from .pages import rows_for

    items = list(db.session.execute(
        select(Case).where(Case.state.in_(states)).order_by(Case.reported_at.desc()).limit(200)
    ).scalars())
    return rows_for(items)


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


def inbox_context() -> dict[str, Any]:
    """The queues of the inbox: review, to dispatch, to check, in handling, return requests."""
    returns = returns_service()
    pending_returns: list[ReturnRequest] = []
    if returns is not None:
        pending_returns = list(db.session.execute(
            select(ReturnRequest).where(ReturnRequest.state == "requested").order_by(ReturnRequest.id)
        ).scalars())
    checking = _cases(("checking",))
    handling_rows = _cases(HANDLING_STATES)
    return {
        "review": _cases(REVIEW_STATES), "to_dispatch": _cases(("registered",)), "checking": checking,
        "results": latest_results([r.item.id for r in checking]),
        "handling": handling_rows, "supervised": last_supervisions([r.item.id for r in handling_rows]),
        "returns_enabled": returns is not None, "returns": pending_returns,
        "departments": list(db.session.execute(select(Department).order_by(Department.code)).scalars()),
        "void_reasons": VOID_REASONS, "methods": SUPERVISION_METHODS, "now": utcnow(),
    }


CASE_ACTIONS = ("register", "verify", "void", "dispatch", "check-pass", "check-fail", "supervise")


@bp.post("/cases/<int:case_id>/<any(register, verify, void, dispatch, 'check-pass', 'check-fail', supervise):action>")
@login_required(roles=ROLES)
def case_action(case_id: int, action: str) -> Response:
    """One step on a case from the inbox, through the case services."""
    _, actor = me()
    session, catalog = db.session(), get_catalog()

    def call() -> Any:
        comment = text("comment", max_len=2000)
        if action == "register":
            return review.register(session, catalog, case_id, actor=actor, comment=comment)
        if action == "verify":
            return review.verify_report(session, catalog, case_id, actor=actor,
                                        question=text("question", required=True), comment=comment)
        if action == "void":
            return review.void(session, catalog, case_id, actor=actor, reason=text("reason", required=True),
                               note=text("note"), comment=comment)
        if action == "dispatch":
            return handling.dispatch(session, catalog, case_id, actor=actor,
                                     department_id=number("department_id", required=True), comment=comment)
        if action == "check-pass":
            return closing.check_pass(session, catalog, case_id, actor=actor, opinion=text("opinion"),
                                      comment=comment)
        if action == "check-fail":
            return closing.check_fail(session, catalog, case_id, actor=actor, reason=text("reason", required=True),
                                      comment=comment)
        return supervision.supervise(session, catalog, case_id, actor=actor, method=text("method", required=True),
                                     requirement=text("requirement", required=True),
                                     due_by=local_time("due_by"), comment=comment)

    attempt(call, t("flash.done.case." + action))
    return back("pages.dispatch")


@bp.post("/returns/<int:request_id>/<any(approve, reject):verdict>")
@login_required(roles=ROLES)
def return_verdict(request_id: int, verdict: str) -> Response:
    """Approve or reject a department's request to return a case (only when returns are installed)."""
    from flask import abort

    returns = returns_service()
    if returns is None:
        abort(404)
    _, actor = me()
    session, catalog = db.session(), get_catalog()

    def call() -> Any:
        if verdict == "approve":
            return returns.approve(session, catalog, request_id, actor, department_id=number("department_id"))
        return returns.reject(session, catalog, request_id, actor, text("reason", required=True))

    attempt(call, t("flash.done.return." + verdict))
    return back("pages.dispatch")
