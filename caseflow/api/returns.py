"""Return requests (申请退单) over HTTP: ask, list, decide, withdraw; the admin's return report with
the one-click category reassignment; per-department indicators; the list of regulations.

Routes only translate: :mod:`caseflow.services.returns` decides, locks and commits.
Handlers see only their own department's requests.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from caseflow.errors import NotFound, ValidationFailed
from caseflow.extensions import db
from caseflow.models import BASIS_KINDS, REGULATION_KINDS, Category, Regulation, ReturnRequest
from caseflow.security.actor import Actor
from caseflow.services import regulations
from caseflow.services import returns as svc
from caseflow.services.access import can_see_department_item, deny, record_audit
from caseflow.workflow.engine import get_catalog

from .auth import current_actor
from .pagination import HEADERS_DOC as PAGE_HEADERS
from .pagination import PageQuerySchema, paged_feed, where_given
from .schemas import ID_RANGE

blp = Blueprint("returns", __name__, url_prefix="/api",
                description="Return requests (申请退单), the return report and regulations")

TEXT = validate.Length(max=4000)
REPORT_ROLES = ("admin", "dispatcher", "leader")
STATES = ("requested", "leader_review", "approved", "rejected", "withdrawn", "escalated")


# --- schemas ---------------------------------------------------------------------------------

class ReturnCreateSchema(Schema):
    """Ask to return a case: reason, a basis (regulation id and/or text), optional suggestion."""

    case_id = fields.Integer(required=True, validate=ID_RANGE)
    reason = fields.String(required=True, validate=TEXT)
    basis = fields.String(load_default="", validate=TEXT,
                          metadata={"description": "the legal or policy basis in free text (or use basis_ref_id)"})
    basis_ref_id = fields.Integer(load_default=None, allow_none=True, validate=ID_RANGE,
                                  metadata={"description": "a regulation or duty list from /api/regulations"})
    suggested_department_id = fields.Integer(load_default=None, allow_none=True, validate=ID_RANGE)
    attachment_ids = fields.List(fields.Integer(validate=ID_RANGE), load_default=list,
                                 validate=validate.Length(max=20),
                                 metadata={"description": "evidence already uploaded to the case"})


class ReturnQuerySchema(PageQuerySchema):
    """Filters and paging of the list (per_page 100 by default)."""

    state = fields.String(load_default=None, validate=validate.OneOf(STATES))
    case_id = fields.Integer(load_default=None, validate=ID_RANGE)


class ApproveSchema(Schema):
    """Approve: the department the case goes to (default: the suggested one) and the opinion."""

    department_id = fields.Integer(load_default=None, allow_none=True, validate=ID_RANGE)
    opinion = fields.String(
        load_default="", allow_none=True, validate=TEXT,
        metadata={"description": "审核意见: the decision's opinion, kept as the request's decision_reason. "
                                 "Optional for the dispatcher; required (non-blank) when the request awaits the "
                                 "leader's review (state leader_review), as in the leader's console: without "
                                 "it 422 naming opinion."})


class RejectSchema(Schema):
    """Reject, with the reason."""

    reason = fields.String(required=True, validate=TEXT)


class EmptySchema(Schema):
    """No fields."""


class ReturnSchema(Schema):
    """One return request."""

    id = fields.Integer()
    case_id = fields.Integer()
    case_number = fields.String()
    state = fields.String()
    state_label = fields.String()
    department_id = fields.Integer()
    requested_by_id = fields.Integer()
    reason = fields.String()
    basis = fields.String()
    basis_kind = fields.String(validate=validate.OneOf(BASIS_KINDS))
    basis_ref_id = fields.Integer(allow_none=True)
    basis_ref_title = fields.String(allow_none=True)
    suggested_department_id = fields.Integer(allow_none=True)
    attempt = fields.Integer()
    category_id = fields.Integer(allow_none=True)
    reviewer_role = fields.String()
    reviewer_id = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_reason = fields.String()
    to_department_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    attachment_ids = fields.List(fields.Integer())


class PeriodSchema(Schema):
    """A period ``[start, end)``; default: this month up to now."""

    start = fields.AwareDateTime(load_default=None)
    end = fields.AwareDateTime(load_default=None)


class ReportRowSchema(Schema):
    """Returns of one category from one department to another in the period."""

    category_id = fields.Integer(allow_none=True)
    category_code = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    from_department_id = fields.Integer(allow_none=True)
    from_department = fields.String(allow_none=True)
    to_department_id = fields.Integer(allow_none=True)
    to_department = fields.String(allow_none=True)
    cases = fields.Integer()
    instructions = fields.Integer()
    count = fields.Integer()
    responsible_department_id = fields.Integer(allow_none=True)
    responsible_department = fields.String(allow_none=True)
    reassign_suggested = fields.Boolean()


class IndicatorRowSchema(Schema):
    """Return figures of one department in the period."""

    department_id = fields.Integer()
    department = fields.String(allow_none=True)
    received = fields.Integer()
    requests = fields.Integer()
    approved = fields.Integer()
    rejected = fields.Integer()
    pending = fields.Integer()
    escalated = fields.Integer()
    withdrawn = fields.Integer()
    instruction_returns = fields.Integer()
    instruction_requests = fields.Integer(metadata={"description": "the unit's transfer requests of instructions"})
    instruction_requests_approved = fields.Integer()
    instruction_requests_rejected = fields.Integer()
    return_rate = fields.Float(allow_none=True)
    approval_rate = fields.Float(allow_none=True)
    mean_review_s = fields.Float(allow_none=True, metadata={
        "description": "mean review time of the reviewed (approved or rejected) requests: request to decision, "
                       "wall-clock seconds (the same definition as the analysis indicators' return_review_mean_s)"})


class ReassignSchema(Schema):
    """The department to make responsible for the category."""

    department_id = fields.Integer(required=True, validate=ID_RANGE)


class CategorySchema(Schema):
    """A category and its responsible department."""

    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    responsible_department_id = fields.Integer(allow_none=True)


class RegulationQuerySchema(Schema):
    """List filter."""

    all = fields.Boolean(load_default=False, metadata={"description": "include those no longer in force"})


class RegulationCreateSchema(Schema):
    """A new regulation or duty list."""

    code = fields.String(required=True, validate=validate.Length(min=1, max=60))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(load_default="regulation", validate=validate.OneOf(REGULATION_KINDS))
    text = fields.String(load_default="", validate=validate.Length(max=20000))
    url = fields.String(load_default="", validate=validate.Length(max=500))


class RegulationActiveSchema(Schema):
    """Put a regulation in or out of force."""

    active = fields.Boolean(required=True)


class RegulationSchema(Schema):
    """One regulation or duty list."""

    id = fields.Integer()
    code = fields.String()
    title = fields.String()
    kind = fields.String()
    text = fields.String()
    url = fields.String()
    active = fields.Boolean()


# --- helpers ---------------------------------------------------------------------------------

def _actor() -> Actor:
    actor = current_actor()
    assert actor is not None
    return actor


def _visible(actor: Actor, request_id: int) -> ReturnRequest:
    """The request if the actor may see it (handlers: their own department's), else ``NotFound``."""
    rr = db.session.get(ReturnRequest, request_id)
    if rr is None or not can_see_department_item(actor, {rr.department_id}):
        raise NotFound(f"return_request {request_id} not found")
    return rr


def view(rr: ReturnRequest) -> dict[str, Any]:
    """The API view of a request."""
    d = get_catalog().definition(rr.workflow, rr.workflow_version)
    return {
        "id": rr.id, "case_id": rr.case_id, "case_number": rr.case.number, "state": rr.state,
        "state_label": d.label(rr.state), "department_id": rr.department_id, "requested_by_id": rr.requested_by_id,
        "reason": rr.reason, "basis": rr.basis, "basis_kind": rr.basis_kind, "basis_ref_id": rr.basis_ref_id,
        "basis_ref_title": rr.basis_ref.title if rr.basis_ref else None,
        "suggested_department_id": rr.suggested_department_id, "attempt": rr.attempt,
        "category_id": rr.category_id, "reviewer_role": rr.reviewer_role, "reviewer_id": rr.reviewer_id,
        "decided_at": rr.decided_at, "decision_reason": rr.decision_reason or "",
        "to_department_id": rr.to_department_id, "created_at": rr.created_at,
        "attachment_ids": list((rr.data or {}).get("attachment_ids") or []),
    }


def _reader(action: str) -> Actor:
    actor = _actor()
    if actor.client or not actor.has_any(*REPORT_ROLES):
        err = deny(actor, action, "returns", f"{action} needs one of the roles {', '.join(REPORT_ROLES)}")
        db.session.rollback()
        record_audit(db.session(), err)
        raise err
    return actor


def _period(args: dict[str, Any]) -> tuple[datetime, datetime]:
    start, end = svc.period_of_month()
    start = args.get("start") or start
    end = args.get("end") or end
    if end <= start:
        raise ValidationFailed("end must come after start", field="end")
    return start, end


# --- routes ----------------------------------------------------------------------------------

@blp.route("/returns")
class Returns(MethodView):
    @blp.arguments(ReturnCreateSchema)
    @blp.response(201, ReturnSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Ask to return a case (handler of the holding department, within the window after dispatch)."""
        rr = svc.request_return(db.session(), get_catalog(), body["case_id"], _actor(), body["reason"], body["basis"],
                                suggested_department_id=body["suggested_department_id"],
                                basis_ref_id=body["basis_ref_id"], attachments=body["attachment_ids"])
        db.session.refresh(rr)
        return view(rr)

    @blp.arguments(ReturnQuerySchema, location="query")
    @blp.response(200, ReturnSchema(many=True), headers=PAGE_HEADERS)
    def get(self, args: dict[str, Any]) -> Any:
        """Return requests, newest first, paged; handlers see their own department's."""
        actor = _actor()
        q = where_given(select(ReturnRequest), args, {"state": ReturnRequest.state, "case_id": ReturnRequest.case_id})
        if not can_see_department_item(actor, set()):
            q = q.where(ReturnRequest.department_id == actor.department_id)
        # The case and the cited regulation in one query each: statements do not grow with the page.
        q = q.options(selectinload(ReturnRequest.case), selectinload(ReturnRequest.basis_ref))
        return paged_feed(db.session(), q.order_by(ReturnRequest.id.desc()), args, default=100,
                          views=lambda rows: [view(r) for r in rows])


@blp.route("/returns/<int:request_id>")
class ReturnOne(MethodView):
    @blp.response(200, ReturnSchema)
    def get(self, request_id: int) -> dict[str, Any]:
        """One return request."""
        return view(_visible(_actor(), request_id))


@blp.route("/returns/<int:request_id>/approve")
class ReturnApprove(MethodView):
    @blp.arguments(ApproveSchema)
    @blp.response(200, ReturnSchema)
    def post(self, body: dict[str, Any], request_id: int) -> dict[str, Any]:
        """Approve and re-dispatch (dispatcher; a request in leader review: the leader, with an opinion)."""
        actor = _actor()
        _visible(actor, request_id)
        rr = svc.approve(db.session(), get_catalog(), request_id, actor, department_id=body["department_id"],
                         opinion=body["opinion"] or "")
        db.session.refresh(rr)
        return view(rr)


@blp.route("/returns/<int:request_id>/reject")
class ReturnReject(MethodView):
    @blp.arguments(RejectSchema)
    @blp.response(200, ReturnSchema)
    def post(self, body: dict[str, Any], request_id: int) -> dict[str, Any]:
        """Reject with a reason: the case stays with the department and its clock resumes."""
        actor = _actor()
        _visible(actor, request_id)
        rr = svc.reject(db.session(), get_catalog(), request_id, actor, body["reason"])
        db.session.refresh(rr)
        return view(rr)


@blp.route("/returns/<int:request_id>/withdraw")
class ReturnWithdraw(MethodView):
    @blp.arguments(EmptySchema)
    @blp.response(200, ReturnSchema)
    def post(self, body: dict[str, Any], request_id: int) -> dict[str, Any]:
        """The requesting department withdraws its waiting request."""
        actor = _actor()
        _visible(actor, request_id)
        rr = svc.withdraw(db.session(), get_catalog(), request_id, actor)
        db.session.refresh(rr)
        return view(rr)


@blp.route("/returns/report")
class ReturnReport(MethodView):
    @blp.arguments(PeriodSchema, location="query")
    @blp.response(200, ReportRowSchema(many=True))
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Approved returns (and instruction transfers / not-ours) by category and from/to department."""
        _reader("return report")
        return svc.return_report(db.session(), *_period(args))


@blp.route("/returns/indicators")
class ReturnIndicators(MethodView):
    @blp.arguments(PeriodSchema, location="query")
    @blp.response(200, IndicatorRowSchema(many=True))
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Per department: return rate, approval rate, mean review time."""
        _reader("return indicators")
        return svc.return_indicators(db.session(), *_period(args))


@blp.route("/categories/<int:category_id>/responsible-department")
class CategoryReassign(MethodView):
    @blp.arguments(ReassignSchema)
    @blp.response(200, CategorySchema)
    def post(self, body: dict[str, Any], category_id: int) -> Category:
        """Make another department responsible for the category (admin; ledgered)."""
        return svc.reassign_category(db.session(), category_id, body["department_id"], _actor())


@blp.route("/regulations")
class Regulations(MethodView):
    @blp.arguments(RegulationQuerySchema, location="query")
    @blp.response(200, RegulationSchema(many=True))
    def get(self, args: dict[str, Any]) -> list[Regulation]:
        """Regulations and duty lists a return request can cite."""
        _actor()
        return regulations.listing(db.session(), active_only=not args["all"])

    @blp.arguments(RegulationCreateSchema)
    @blp.response(201, RegulationSchema)
    def post(self, body: dict[str, Any]) -> Regulation:
        """Add a regulation or duty list (admin)."""
        return regulations.add(db.session(), _actor(), **body)


@blp.route("/regulations/<int:regulation_id>/active")
class RegulationActive(MethodView):
    @blp.arguments(RegulationActiveSchema)
    @blp.response(200, RegulationSchema)
    def post(self, body: dict[str, Any], regulation_id: int) -> Regulation:
        """Put a regulation out of force (or back) (admin)."""
        return regulations.set_active(db.session(), _actor(), regulation_id, body["active"])
