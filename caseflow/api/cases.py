"""Urban-operations cases: intake from every channel, the list, one case, and each step."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import selectinload

from caseflow.errors import NotFound, PermissionDenied, ValidationFailed
from caseflow.extensions import db
from caseflow.models import (
    CHANNELS,
    Case,
    CaseParticipant,
    CaseReporter,
    Category,
    Deadline,
    Grid,
    LedgerEntry,
    utcnow,
)
from caseflow.security.actor import Actor
from caseflow.services import open311
from caseflow.services.access import (
    can_see_department_item,
    can_see_item,
    client_case_clause,
    is_machine_client,
)
from caseflow.services.cases import (
    closing,
    district,
    duplicates,
    extension,
    handling,
    intake,
    reclassify,
    review,
    supervision,
    tiers,
    urgent,
)
from caseflow.workflow.engine import get_catalog

from .auth import current_actor
from .idempotency import idempotent
from .pagination import HEADERS_DOC as PAGE_HEADERS
from .pagination import pagination_header
from .case_schemas import (
    CaseActionSchema,
    CaseCreateSchema,
    CaseDetailSchema,
    CaseListArgsSchema,
    CasePageSchema,
    CasePublicSchema,
    CaseReclassifySchema,
    CaseSchema,
    CaseUrgentSchema,
)

blp = Blueprint("cases", __name__, url_prefix="/api/cases", description="Urban-operations cases (城运案件)")


def _need(body: dict[str, Any], name: str) -> Any:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()) or value == []:
        raise ValidationFailed(f"{name} is required", field=name)
    return value


def _c(body: dict[str, Any]) -> str:
    return str(body.get("comment") or "")


Call = Callable[..., Any]
# action in the URL -> (trigger, call(session, catalog, case_id, actor, body))
ACTIONS: dict[str, tuple[str, Call]] = {
    "register": ("register", lambda s, c, i, a, b: review.register(
        s, c, i, actor=a, title=b.get("title"), description=b.get("description"), address=b.get("address"),
        comment=_c(b))),
    "verify": ("verify_report", lambda s, c, i, a, b: review.verify_report(
        s, c, i, actor=a, question=_need(b, "question"), comment=_c(b))),
    "void": ("void", lambda s, c, i, a, b: review.void(s, c, i, actor=a, reason=_need(b, "reason"),
                                                       note=b.get("note") or "", comment=_c(b))),
    "merge": ("void", lambda s, c, i, a, b: duplicates.merge(s, c, i, int(_need(b, "original_id")), actor=a,
                                                             comment=_c(b))),
    "change-tier": ("change_tier", lambda s, c, i, a, b: tiers.change_tier(
        s, c, i, actor=a, tier=_need(b, "tier"), reason=_need(b, "reason"), comment=_c(b))),
    "dispatch": ("dispatch", lambda s, c, i, a, b: handling.dispatch(
        s, c, i, actor=a, department_id=_need(b, "department_id"),
        cooperating_department_ids=b.get("cooperating_department_ids"), comment=_c(b))),
    "redispatch": ("redispatch", lambda s, c, i, a, b: handling.redispatch(
        s, c, i, actor=a, department_id=_need(b, "department_id"), reason=_need(b, "reason"), comment=_c(b))),
    "add-cooperating": ("add_cooperating", lambda s, c, i, a, b: handling.add_cooperating(
        s, c, i, actor=a, department_ids=_need(b, "department_ids"), comment=_c(b))),
    "sign": ("sign", lambda s, c, i, a, b: handling.sign(s, c, i, actor=a, comment=_c(b))),
    "sign-part": ("sign_part", lambda s, c, i, a, b: handling.sign_part(s, c, i, actor=a, comment=_c(b))),
    "report-part": ("report_part", lambda s, c, i, a, b: handling.report_part(
        s, c, i, actor=a, result=_need(b, "result"), comment=_c(b))),
    "result": ("report_result", lambda s, c, i, a, b: handling.report_result(
        s, c, i, actor=a, result=_need(b, "result"), evidence_refs=b.get("evidence_refs"), comment=_c(b))),
    "escalate": ("escalate_to_district", lambda s, c, i, a, b: handling.escalate_to_district(
        s, c, i, actor=a, reason=_need(b, "reason"), comment=_c(b))),
    "start-joint": ("start_joint_handling", lambda s, c, i, a, b: handling.start_joint_handling(
        s, c, i, actor=a, department_id=_need(b, "department_id"),
        cooperating_department_ids=b.get("cooperating_department_ids"), comment=_c(b))),
    "apply-joint": ("apply_joint_handling", lambda s, c, i, a, b: handling.apply_joint_handling(
        s, c, i, actor=a, reason=_need(b, "reason"), department_ids=b.get("department_ids"), comment=_c(b))),
    "approve-joint": ("approve_joint_handling", lambda s, c, i, a, b: handling.approve_joint_handling(
        s, c, i, actor=a, department_ids=_need(b, "department_ids"), comment=_c(b))),
    "supervise": ("supervise", lambda s, c, i, a, b: supervision.supervise(
        s, c, i, actor=a, method=_need(b, "method"), requirement=_need(b, "requirement"), due_by=b.get("due_by"),
        comment=_c(b))),
    "request-extension": ("request_extension", lambda s, c, i, a, b: extension.request_extension(
        s, c, i, actor=a, duration=_need(b, "duration"), reason=_need(b, "reason"), comment=_c(b))),
    "approve-extension": ("approve_extension", lambda s, c, i, a, b: extension.approve_extension(
        s, c, i, actor=a, reason=_need(b, "reason"), duration=b.get("duration"), comment=_c(b))),
    "reject-extension": ("reject_extension", lambda s, c, i, a, b: extension.reject_extension(
        s, c, i, actor=a, reason=_need(b, "reason"), comment=_c(b))),
    "request-deferral": ("request_deferral", lambda s, c, i, a, b: extension.request_deferral(
        s, c, i, actor=a, reason=_need(b, "reason"), comment=_c(b))),
    "approve-deferral": ("approve_deferral", lambda s, c, i, a, b: extension.approve_deferral(
        s, c, i, actor=a, reason=_need(b, "reason"), comment=_c(b))),
    "reject-deferral": ("reject_deferral", lambda s, c, i, a, b: extension.reject_deferral(
        s, c, i, actor=a, reason=_need(b, "reason"), comment=_c(b))),
    "resume": ("resume", lambda s, c, i, a, b: extension.resume(s, c, i, actor=a, reason=_need(b, "reason"),
                                                                comment=_c(b))),
    "check-pass": ("check_pass", lambda s, c, i, a, b: closing.check_pass(
        s, c, i, actor=a, opinion=b.get("opinion") or "", method=b.get("method") or "", comment=_c(b))),
    "check-fail": ("check_fail", lambda s, c, i, a, b: closing.check_fail(
        s, c, i, actor=a, reason=_need(b, "reason"), method=b.get("method") or "", comment=_c(b))),
    "archive": ("archive", lambda s, c, i, a, b: closing.archive(s, c, i, actor=a, opinion=b.get("opinion") or "",
                                                                 comment=_c(b))),
    "callback": ("callback", lambda s, c, i, a, b: closing.callback(
        s, c, i, actor=a, grade=_need(b, "grade"), note=b.get("note") or "", comment=_c(b))),
}


def _department_filter(actor: Actor) -> Any:
    """Handlers see the cases their department holds or takes part in."""
    part = exists().where(CaseParticipant.case_id == Case.id, CaseParticipant.department_id == actor.department_id,
                          CaseParticipant.state != "withdrawn")
    return or_(Case.department_id == actor.department_id, part)


def _overdue_clause(now: Any) -> Any:
    """A limit of the current state visit has expired (fired, or pending and past due)."""
    return exists().where(
        Deadline.item_type == "case", Deadline.item_id == Case.id, Deadline.state == Case.state,
        Deadline.state_seq == Case.state_seq,
        or_(Deadline.status == "fired", and_(Deadline.status == "pending", Deadline.due_at < now)),
    )


def visible_case(actor: Actor, case_id: int) -> Case:
    """The case if the actor may see it, else ``NotFound`` (never reveal another department's case,
    nor to a machine client a case it did not report)."""
    case = db.session.get(Case, case_id)
    if case is None or not can_see_item(db.session(), actor, "case", case.id, case.scope_department_ids()):
        raise NotFound(f"case {case_id} not found")
    return case


def case_view(case: Case, actor: Actor, overdue: bool | None = None) -> dict[str, Any]:
    """The fields the API shows, plus the steps the caller may take now."""
    d = get_catalog().definition(case.workflow, case.workflow_version)
    triggers = {t.trigger for t in d.triggers_from(case.state) if set(t.roles) & actor.roles}
    if overdue is None:
        overdue = bool(db.session.execute(select(_overdue_clause(utcnow())).where(Case.id == case.id)).scalar())
    return {
        "id": case.id, "number": case.number, "state": case.state, "state_label": d.label(case.state),
        "tier": case.tier, "workflow": case.workflow, "workflow_version": case.workflow_version, "urgent": case.urgent,
        "channel": case.channel, "external_ref": case.external_ref,
        "category": case.category.code if case.category else None, "grid": case.grid.code if case.grid else None,
        "area_kind": case.area_kind, "department_id": case.department_id, "title": case.title,
        "description": case.description, "address": case.address, "lat": case.lat, "lon": case.lon,
        "reported_at": case.reported_at, "closed_at": case.closed_at, "overdue": overdue,
        "read_only": case.read_only, "record": dict(case.data or {}),
        "available_actions": [a for a, (t, _) in ACTIONS.items() if t in triggers and a != "merge"]
        + (["merge"] if "void" in triggers else []) + (["reclassify"] if _may_reclassify(case, actor) else [])
        + (["urgent"] if _may_set_urgent(case, actor) else []),
    }


def _may_reclassify(case: Case, actor: Actor) -> bool:
    """Reclassification is no workflow transition: the reclassify service's own rule (its roles,
    before dispatch) says whether the caller may take it."""
    return bool(set(reclassify.ROLES) & actor.roles) and reclassify.allowed(case)


def _may_set_urgent(case: Case, actor: Actor) -> bool:
    """The urgent flag is no workflow transition either: the urgent service's rule (dispatchers,
    open cases) says whether the caller may change it."""
    return bool(set(urgent.SET_ROLES) & actor.roles) and urgent.may_set(case, get_catalog())


def _channel_for(actor: Actor, asked: str | None) -> str:
    """Machine clients report on their own channel; people on the one they name (default by role)."""
    if actor.client:
        if actor.client not in CHANNELS:
            raise PermissionDenied(f"client {actor.client!r} cannot report cases")
        if asked and asked != actor.client:
            raise ValidationFailed(f"a {actor.client} client reports on channel {actor.client}", field="channel")
        return actor.client
    return asked or ("patrol" if "handler" in actor.roles else "referral")


def _grid_id(body: dict[str, Any]) -> int | None:
    if body.get("grid_id") is not None:
        return int(body["grid_id"])
    if body.get("grid"):
        grid_id = db.session.execute(select(Grid.id).where(Grid.code == body["grid"])).scalar()
        if grid_id is None:
            raise ValidationFailed(f"unknown grid {body['grid']!r}", field="grid")
        return grid_id
    return None


@blp.route("")
class Cases(MethodView):
    @idempotent
    @blp.arguments(CaseCreateSchema)
    @blp.response(201, CaseSchema)
    @blp.alt_response(200, schema=CaseSchema, description="Already reported (same channel and external_ref)")
    def post(self, body: dict[str, Any]) -> Any:
        """Report a case; the same ``external_ref`` on the same channel returns the first case, 200."""
        actor = current_actor()
        assert actor is not None
        if body.get("category") is None and body.get("category_id") is None:
            raise ValidationFailed("category is required", field="category")
        case, created = intake.report(
            db.session(), get_catalog(), channel=_channel_for(actor, body.get("channel")), actor=actor,
            title=body["title"], description=body["description"], category_id=body.get("category_id"),
            category_code=body.get("category"), lat=body.get("lat"), lon=body.get("lon"), address=body["address"],
            external_ref=body.get("external_ref"), reporter=body.get("reporter"), grid_id=_grid_id(body),
            urgent=body["urgent"],
        )
        return case_view(case, actor), 201 if created else 200

    @blp.arguments(CaseListArgsSchema, location="query")
    @blp.response(200, CasePageSchema, headers=PAGE_HEADERS)
    def get(self, args: dict[str, Any]) -> Any:
        """Cases, newest first, filtered by state, tier, category, department, channel, overdue and
        the district center's queue (``escalated``, ``joint``); paged."""
        actor = current_actor()
        assert actor is not None
        now = utcnow()
        q = select(Case)
        for name in ("state", "tier", "department_id", "channel", "urgent"):
            if args.get(name) is not None:
                q = q.where(getattr(Case, name) == args[name])
        if args.get("category"):
            q = q.join(Category, Category.id == Case.category_id).where(Category.code == args["category"])
        if args.get("queue"):
            q = q.where(district.queue_clause(args["queue"]))
        if args.get("overdue") is not None:
            clause = _overdue_clause(now)
            q = q.where(clause if args["overdue"] else ~clause)
        if is_machine_client(actor):
            q = q.where(client_case_clause(actor))  # a machine client lists what it reported
        elif not can_see_department_item(actor, set()):
            q = q.where(_department_filter(actor))
        total = db.session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
        page, per = args["page"], args["per_page"]
        # One query for the page (overdue as a column) and one per relationship the view reads:
        # the statement count does not grow with the page size.
        rows = db.session.execute(
            q.add_columns(_overdue_clause(now).label("overdue"))
            .options(selectinload(Case.category), selectinload(Case.grid))
            .order_by(Case.reported_at.desc(), Case.id.desc()).offset((page - 1) * per).limit(per)
        ).all()
        return ({"items": [case_view(c, actor, overdue=bool(overdue)) for c, overdue in rows], "total": total,
                 "page": page, "per_page": per}, pagination_header(total, page, per))


@blp.route("/<int:case_id>")
class CaseOne(MethodView):
    @blp.response(200, CaseDetailSchema)
    def get(self, case_id: int) -> dict[str, Any]:
        """One case: deadlines with time left, parts, supervisions, reporters, ledger."""
        actor = current_actor()
        assert actor is not None
        case = visible_case(actor, case_id)
        now = utcnow()
        s = db.session
        view = case_view(case, actor)
        view["deadlines"] = [
            {"id": d.id, "key": d.key, "state": d.state, "clock": d.clock, "due_at": d.due_at.isoformat(),
             "status": d.status, "remaining_s": d.remaining_s,
             "seconds_left": round((d.due_at - now).total_seconds(), 1) if d.status == "pending" else None}
            for d in s.execute(select(Deadline).where(Deadline.item_type == "case", Deadline.item_id == case.id)
                               .order_by(Deadline.id)).scalars()]
        view["participants"] = [
            {"department_id": p.department_id, "department": p.department.name, "role": p.role, "state": p.state,
             "signed_at": _iso(p.signed_at), "reported_at": _iso(p.reported_at), "result": p.result}
            for p in handling.participants(s, case.id)]
        view["supervisions"] = [
            {"id": v.id, "method": v.method, "by_id": v.by_id, "by_name": v.by_name, "at": v.at.isoformat(),
             "requirement": v.requirement, "due_by": _iso(v.due_by), "department_id": v.department_id}
            for v in supervision.supervisions(s, case.id)]
        view["reporters"] = [
            {"channel": r.channel, "external_ref": r.external_ref, "name": r.name, "phone": r.phone,
             "device_id": r.device_id, "evidence_refs": r.evidence_refs, "merged_from_case_id": r.merged_from_case_id,
             "reported_at": r.reported_at.isoformat()}
            for r in s.execute(select(CaseReporter).where(CaseReporter.case_id == case.id)
                               .order_by(CaseReporter.id)).scalars()]
        view["ledger"] = [
            {"seq": e.seq, "at": e.at.isoformat(), "trigger": e.trigger, "from": e.from_state, "to": e.to_state,
             "workflow": e.workflow, "workflow_version": e.workflow_version, "actor_id": e.actor_id,
             "role": e.actor_role, "client": e.client, "payload": e.payload, "comment": e.comment}
            for e in s.execute(select(LedgerEntry).where(LedgerEntry.item_type == "case",
                                                         LedgerEntry.item_id == case.id)
                               .order_by(LedgerEntry.seq)).scalars()]
        return view


def _iso(t: Any) -> str | None:
    return t.isoformat() if t is not None else None


@blp.route("/<int:case_id>/<string:action>")
class CaseAction(MethodView):
    @idempotent
    @blp.arguments(CaseActionSchema)
    @blp.response(200, CaseSchema)
    def post(self, body: dict[str, Any], case_id: int, action: str) -> dict[str, Any]:
        """Take one step: register, verify, void, merge, change-tier, dispatch, redispatch, add-cooperating,
        sign, sign-part, report-part, result, escalate, start-joint, apply-joint, approve-joint, supervise,
        request-/approve-/reject-extension, request-/approve-/reject-deferral, resume, check-pass,
        check-fail, archive, callback."""
        actor = current_actor()
        assert actor is not None
        if action not in ACTIONS:
            raise NotFound(f"no case action {action!r}")
        visible_case(actor, case_id)
        _, call = ACTIONS[action]
        case = call(db.session(), get_catalog(), case_id, actor, body)
        db.session.refresh(case)
        return case_view(case, actor)


def _category_id(body: dict[str, Any]) -> int | None:
    if body.get("category_id") is not None:
        return int(body["category_id"])
    if body.get("category"):
        category_id = db.session.execute(select(Category.id).where(Category.code == body["category"])).scalar()
        if category_id is None:
            raise ValidationFailed(f"unknown category {body['category']!r}", field="category")
        return category_id
    return None


@blp.route("/<int:case_id>/reclassify")
class CaseReclassify(MethodView):
    @idempotent
    @blp.arguments(CaseReclassifySchema)
    @blp.response(200, CaseSchema)
    def post(self, body: dict[str, Any], case_id: int) -> dict[str, Any]:
        """Correct the category (类别) and/or grid (网格) before dispatch (dispatcher; ledgered as
        ``reclassify``). The same values again change nothing; after dispatch 409."""
        actor = current_actor()
        assert actor is not None
        visible_case(actor, case_id)
        case = reclassify.reclassify(db.session(), case_id, actor=actor, category_id=_category_id(body),
                                     grid_id=_grid_id(body), reason=body["reason"], comment=body["comment"])
        db.session.refresh(case)
        return case_view(case, actor)


@blp.route("/<int:case_id>/public")
class CasePublic(MethodView):
    @idempotent
    @blp.arguments(CasePublicSchema)
    @blp.response(200, CaseSchema)
    def post(self, body: dict[str, Any], case_id: int) -> dict[str, Any]:
        """Show (``public: true``) or hide the case on the public Open311 GET endpoints, with a reason
        (dispatcher or administrator; ledgered as ``set_public``; the state does not change). An
        archived case is read-only (409)."""
        actor = current_actor()
        assert actor is not None
        visible_case(actor, case_id)
        case = open311.set_public(db.session(), case_id, actor=actor, public=body["public"], reason=body["reason"])
        db.session.refresh(case)
        return case_view(case, actor)


@blp.route("/<int:case_id>/urgent")
class CaseUrgent(MethodView):
    @idempotent
    @blp.arguments(CaseUrgentSchema)
    @blp.response(200, CaseSchema)
    def post(self, body: dict[str, Any], case_id: int) -> dict[str, Any]:
        """Mark an open case urgent (紧急, ``urgent: true``; its commanders are notified at once) or
        take the flag off with a reason (dispatcher; ledgered as ``set_urgent``; the state does not
        change). The value the case already has changes nothing; a closed, archived or void case 409."""
        actor = current_actor()
        assert actor is not None
        visible_case(actor, case_id)
        case = urgent.set_urgent(db.session(), get_catalog(), case_id, actor=actor, urgent=body["urgent"],
                                 reason=body["reason"], comment=body["comment"])
        db.session.refresh(case)
        return case_view(case, actor)
