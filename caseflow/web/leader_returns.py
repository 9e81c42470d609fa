"""The leader's review of return requests (领导审核退单, seed 001 篇五 五(三)2).

A department that asks again after the dispatcher rejected its request (with a new basis)
reaches the center's leader: the request waits in ``leader_review``, where a dispatcher can no
longer decide it. This page lists those requests with what came before them (the rejected
requests and their reasons) and lets the leader approve (re-dispatching the case) or reject,
always with an opinion. It calls :func:`caseflow.services.returns.approve` and
:func:`~caseflow.services.returns.reject`, the same functions as the API.

A refused decision re-renders the page with the HTTP status of the error (422 for a missing
opinion), the message beside the form naming the field, and what the leader typed kept in it;
the service rolled back, so nothing saved before is touched.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, flash, render_template, request
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from caseflow.errors import DomainError
from caseflow.extensions import db
from caseflow.models import Department, ReturnRequest
from caseflow.services import returns
from caseflow.services.active_records import offered
from caseflow.workflow.engine import get_catalog

from .guards import login_required
from .i18n import t
from .work import back, describe, me, number, text

bp = Blueprint("leader_returns", __name__, url_prefix="/leader/returns")

ROLES = ["leader"]
STATE = "leader_review"
MAX_OPINION = 2000


@dataclass
class Waiting:
    """One request in the leader's queue, with the department's earlier (rejected) requests."""

    row: Any  # pages.Row: the request, its state label and its live leader-review deadline
    earlier: list[ReturnRequest] = field(default_factory=list)

    @property
    def request(self) -> ReturnRequest:
        """The request itself."""
        return self.row.item  # type: ignore[no-any-return]


def waiting_requests(limit: int = 200) -> list[Waiting]:
    """Requests awaiting the leader's review, oldest first, each with its earlier requests."""
    from .pages import rows_for

    items = list(db.session.execute(
        select(ReturnRequest).where(ReturnRequest.state == STATE).order_by(ReturnRequest.id).limit(limit)
    ).scalars())
    out = []
    for row in rows_for(items, prefer="leader_review"):
        rr = row.item
        earlier = list(db.session.execute(
            select(ReturnRequest).where(ReturnRequest.case_id == rr.case_id,
                                        ReturnRequest.department_id == rr.department_id,
                                        ReturnRequest.id < rr.id).order_by(ReturnRequest.id)
        ).scalars())
        out.append(Waiting(row, earlier))
    return out


def waiting_count() -> int:
    """How many requests wait for the leader (for the dashboard)."""
    return int(db.session.execute(
        select(func.count(ReturnRequest.id)).where(ReturnRequest.state == STATE)).scalar() or 0)


def _render(status: int = 200, error: dict[str, Any] | None = None) -> tuple[str, int]:
    from .pages import state_label

    departments = offered(db.session(), Department)  # a return goes only to a department in use
    return render_template("leader/returns.html", waiting=waiting_requests(), departments=departments,
                           error=error, state_label=state_label, max_opinion=MAX_OPINION), status


@bp.get("")
@login_required(roles=ROLES)
def index() -> tuple[str, int]:
    """Return requests awaiting the leader's review, with the approve / reject form of each."""
    return _render()


@bp.post("/<int:request_id>/<any(approve, reject):verdict>")
@login_required(roles=ROLES)
def decide(request_id: int, verdict: str) -> Response | tuple[str, int]:
    """Approve (re-dispatch to the chosen department) or reject, with the leader's opinion."""
    _, actor = me()
    session, catalog = db.session(), get_catalog()
    try:
        opinion = text("opinion", required=True, max_len=MAX_OPINION)
        if verdict == "approve":
            returns.approve(session, catalog, request_id, actor, department_id=number("department_id"),
                            opinion=opinion)
        else:
            returns.reject(session, catalog, request_id, actor, opinion)
    except DomainError as exc:
        db.session.rollback()  # the service rolled back already; leave no half-read transaction
        status = exc.status if 400 <= exc.status < 500 else 400
        kept = {"opinion": request.form.get("opinion", ""), "department_id": request.form.get("department_id", "")}
        return _render(status, {"request_id": request_id, "verdict": verdict, "field": exc.field,
                                "message": describe(exc, {"opinion": t("leader_returns.opinion")}),
                                "form": kept})
    flash(t("flash.done.leader_return." + verdict), "ok")
    return back("leader_returns.index")
