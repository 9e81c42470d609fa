"""Urban-operations cases: intake from every channel, the list, one case, and each step."""
from __future__ import annotations

from collections.abc import Callable
import threading
from functools import partial, wraps
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import Integer, and_, bindparam, exists, func, or_, select
from sqlalchemy.orm import aliased

from caseflow.errors import NotFound, PermissionDenied, ValidationFailed
from caseflow.extensions import db
from caseflow.models import (
    CHANNELS,
    Case,
    CaseParticipant,
    CaseReporter,
    Category,
    Deadline,
    Department,
    Grid,
    LedgerEntry,
    Supervision,
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
    "withdraw-request": ("withdraw_request", lambda s, c, i, a, b: extension.withdraw_request(
        s, c, i, actor=a, reason=b.get("reason") or "", comment=_c(b))),
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


def _department_filter(department_id: int | None) -> Any:
    """Handlers see the cases their department holds or takes part in."""
    part = exists().where(CaseParticipant.case_id == Case.id, CaseParticipant.department_id == department_id,
                          CaseParticipant.state != "withdrawn")
    return or_(Case.department_id == department_id, part)


def _overdue_clause(now: Any) -> Any:
    """A limit of the current state visit has expired (fired, or pending and past due)."""
    return exists().where(
        Deadline.item_type == "case", Deadline.item_id == Case.id, Deadline.state == Case.state,
        Deadline.state_seq == Case.state_seq,
        or_(Deadline.status == "fired", and_(Deadline.status == "pending", Deadline.due_at < now)),
    )


_local = threading.local()


def per_thread(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Build a statement once per thread and arguments (at most 256 kept per thread).

    Building an ORM statement costs more than running it, so it is built once; but not shared
    between threads: an ORM statement and the aliases in it set parts of themselves up on first
    use, and two threads doing that at once left a gunicorn worker failing every list request
    ("Can't determine which FROM clause to join from"). Each thread's first use is its own.
    """

    @wraps(fn)
    def wrapper(*args: Any) -> Any:
        built = _local.__dict__.setdefault(fn.__qualname__, {})
        statement = built.get(args)
        if statement is None:
            if len(built) >= 256:
                built.clear()
            statement = built[args] = fn(*args)
        return statement

    return wrapper


def visible_case(actor: Actor, case_id: int) -> Case:
    """The case if the actor may see it, else ``NotFound`` (never reveal another department's case,
    nor to a machine client a case it did not report)."""
    case = db.session.get(Case, case_id)
    if case is None or not _may_see(actor, case):
        raise NotFound(f"case {case_id} not found")
    return case


def require_visible(actor: Actor, case_id: int) -> None:
    """``visible_case`` for a view that does not need the case itself (a step loads and locks it).

    A person of an unscoped role sees every case, so only its existence is checked, with a plain
    query that loads no ORM object; anyone else goes through ``visible_case``.
    """
    if not is_machine_client(actor) and can_see_department_item(actor, set()):
        found = db.session.connection().execute(_case_exists(), {"case_id": case_id}).first()
        if found is None:
            raise NotFound(f"case {case_id} not found")
        return
    visible_case(actor, case_id)


@per_thread
def _case_exists() -> Any:
    """``SELECT id FROM case WHERE id = :case_id``, built once per thread."""
    case = Case.__table__
    return select(case.c.id).where(case.c.id == bindparam("case_id"))


def _may_see(actor: Actor, case: Case) -> bool:
    """``can_see_item`` for a loaded case. A person of an unscoped role (dispatcher, liaison, ...)
    sees every case whatever departments take part in it: that answer needs no query."""
    if not is_machine_client(actor) and can_see_department_item(actor, set()):
        return True
    return can_see_item(db.session(), actor, "case", case.id, case.scope_department_ids())


_UNSET: Any = object()
@per_thread
def _case_query() -> Any:
    """``(Case, category code, grid code, overdue)`` of case ``case_id`` at ``now`` (bound at
    execution): what ``case_view`` reads besides the case's own columns, in the case's own query
    (no lazy load of the category or grid, no overdue query). Built once per thread."""
    category, grid = aliased(Category), aliased(Grid)
    return (select(Case, category.code.label("category_code"), grid.code.label("grid_code"),
                   _overdue_clause(bindparam("now")).label("overdue"))
            .outerjoin(category, category.id == Case.category_id).outerjoin(grid, grid.id == Case.grid_id)
            .where(Case.id == bindparam("case_id")))


@per_thread
def _extras_query() -> Any:
    """``_case_query`` without the case's columns, for a case the view holds already: plain SQL on
    the tables (no ORM compilation; run on the connection). Built once per thread."""
    case, deadline = Case.__table__, Deadline.__table__.c
    category, grid = Category.__table__.alias("category_1"), Grid.__table__.alias("grid_1")
    overdue = exists().where(  # _overdue_clause, on the tables
        deadline.item_type == "case", deadline.item_id == case.c.id, deadline.state == case.c.state,
        deadline.state_seq == case.c.state_seq,
        or_(deadline.status == "fired", and_(deadline.status == "pending", deadline.due_at < bindparam("now"))))
    return (select(category.c.code, grid.c.code, overdue)
            .select_from(case.outerjoin(category, category.c.id == case.c.category_id)
                         .outerjoin(grid, grid.c.id == case.c.grid_id))
            .where(case.c.id == bindparam("case_id")))


_RELOAD: dict[str, Any] = {"populate_existing": True}
_AS_IS: dict[str, Any] = {}


def load_case_view(actor: Actor, case_id: int, *, visible: bool = False,
                   reload: bool = False) -> tuple[Case, dict[str, Any]]:
    """The case and its ``case_view`` in one statement.

    ``visible``: refuse (``NotFound``) a case the actor may not see, like ``visible_case``.
    ``reload``: overwrite the copy in the session with the row as it is now (what a ``refresh``
    after a step did).
    """
    row = db.session.execute(_case_query(), {"case_id": case_id, "now": utcnow()},
                             execution_options=_RELOAD if reload else _AS_IS).first()
    if row is None or (visible and not _may_see(actor, row[0])):
        raise NotFound(f"case {case_id} not found")
    case, category_code, grid_code, overdue = row
    return case, case_view(case, actor, overdue=bool(overdue), category=category_code, grid=grid_code)


def _view_of(case: Case, actor: Actor) -> dict[str, Any]:
    """``case_view`` of a case the view holds already: its category and grid codes and overdue in
    one query."""
    db.session.flush()  # the case as the view holds it (the connection does not flush for us)
    category, grid, overdue = db.session.connection().execute(
        _extras_query(), {"case_id": case.id, "now": utcnow()}).one()
    return case_view(case, actor, overdue=bool(overdue), category=category, grid=grid)


def case_view(case: Case, actor: Actor, overdue: bool | None = None, *, category: str | None = _UNSET,
              grid: str | None = _UNSET) -> dict[str, Any]:
    """The fields the API shows, plus the steps the caller may take now.

    ``overdue``, ``category`` and ``grid`` (codes): pass them when the query that loaded the case
    had them, else they are read here (a query or a lazy load each)."""
    catalog = get_catalog()
    d = catalog.definition(case.workflow, case.workflow_version)
    if overdue is None:
        overdue = bool(db.session.execute(select(_overdue_clause(utcnow())).where(Case.id == case.id)).scalar())
    if category is _UNSET:
        category = case.category.code if case.category else None
    if grid is _UNSET:
        grid = case.grid.code if case.grid else None
    return {
        "id": case.id, "number": case.number, "state": case.state, "state_label": d.label(case.state),
        "tier": case.tier, "workflow": case.workflow, "workflow_version": case.workflow_version, "urgent": case.urgent,
        "channel": case.channel, "external_ref": case.external_ref,
        "category": category, "grid": grid,
        "area_kind": case.area_kind, "department_id": case.department_id, "title": case.title,
        "description": case.description, "address": case.address, "lat": case.lat, "lon": case.lon,
        "reported_at": case.reported_at, "closed_at": case.closed_at, "overdue": overdue,
        "read_only": case.read_only, "record": dict(case.data or {}),
        "available_actions": _available_actions(d, case.state, actor.roles)
        + (["reclassify"] if _may_reclassify(case, actor) else [])
        + (["urgent"] if _may_set_urgent(case, actor, catalog) else []),
    }


def _available_actions(d: Any, state: str, roles: frozenset[str]) -> list[str]:
    """The URL actions whose trigger the roles may fire from ``state`` of definition ``d``, in
    ``ACTIONS`` order, ``merge`` (a void) last.

    A definition does not change once loaded, so the answer is kept per definition, state and
    roles (a list page asks it for every row): the entry holds the definition itself, so a
    definition replaced by another at the same address is never answered from the old one.
    """
    if type(roles) is not frozenset:
        roles = frozenset(roles)
    key = (id(d), state, roles)
    hit = _ACTIONS_CACHE.get(key)
    if hit is not None and hit[0] is d:
        return list(hit[1])
    triggers = {t.trigger for t in d.triggers_from(state) if roles.intersection(t.roles)}
    actions = tuple([a for a, (t, _) in ACTIONS.items() if t in triggers and a != "merge"]
                    + (["merge"] if "void" in triggers else []))
    if len(_ACTIONS_CACHE) >= 4096:  # bounded: states x role sets is small; never grow without limit
        _ACTIONS_CACHE.clear()
    _ACTIONS_CACHE[key] = (d, actions)
    return list(actions)


_ACTIONS_CACHE: dict[tuple[int, str, frozenset[str]], tuple[Any, tuple[str, ...]]] = {}


def _may_reclassify(case: Case, actor: Actor) -> bool:
    """Reclassification is no workflow transition: the reclassify service's own rule (its roles,
    before dispatch) says whether the caller may take it."""
    return bool(set(reclassify.ROLES) & actor.roles) and reclassify.allowed(case)


def _may_set_urgent(case: Case, actor: Actor, catalog: Any = None) -> bool:
    """The urgent flag is no workflow transition either: the urgent service's rule (dispatchers,
    open cases) says whether the caller may change it."""
    return bool(set(urgent.SET_ROLES) & actor.roles) and urgent.may_set(case, catalog or get_catalog())


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


# The argument schemas are given as instances: given a class, webargs builds a new schema (and
# its fields) for every request.
@blp.route("")
class Cases(MethodView):
    @idempotent
    @blp.arguments(CaseCreateSchema())
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
        return _view_of(case, actor), 201 if created else 200

    @blp.arguments(CaseListArgsSchema(), location="query")
    @blp.response(200, CasePageSchema, headers=PAGE_HEADERS)
    def get(self, args: dict[str, Any]) -> Any:
        """Cases, newest first, filtered by state, tier, category, department, channel, overdue and
        the district center's queue (``escalated``, ``joint``); paged."""
        actor = current_actor()
        assert actor is not None
        page, per = args["page"], args["per_page"]
        equal = tuple(name for name in _LIST_EQUAL_FILTERS if args.get(name) is not None)
        if is_machine_client(actor):
            scope: tuple[str, Any] = ("client", actor.client)  # a machine client lists what it reported
        elif not can_see_department_item(actor, set()):
            scope = ("department", actor.department_id)
        else:
            scope = ("all", None)
        count, page_query = _list_statements(equal, bool(args.get("category")), args.get("queue") or None,
                                             args.get("overdue"), scope)
        params: dict[str, Any] = {f"f_{name}": args[name] for name in equal}
        params.update(category_code=args.get("category"), now=utcnow())
        total = db.session.execute(count, params).scalar_one()
        # One query for the page, with overdue, the category's and the grid's codes as columns:
        # the statement count does not grow with the page size.
        rows = db.session.execute(page_query, {**params, "offset": (page - 1) * per, "limit": per}).all()
        items = [case_view(c, actor, overdue=bool(overdue), category=category_code, grid=grid_code)
                 for c, category_code, grid_code, overdue in rows]
        return ({"items": items, "total": total, "page": page, "per_page": per},
                pagination_header(total, page, per))


# The list's filters that compare a case column with the value given.
_LIST_EQUAL_FILTERS = ("state", "tier", "department_id", "channel", "urgent")


@per_thread
def _list_statements(equal: tuple[str, ...], category: bool, queue: str | None, overdue: bool | None,
                     scope: tuple[str, Any]) -> tuple[Any, Any]:
    """The count and page statements of one shape of list request, built once per shape (and thread).

    Building a statement costs more than running it (several milliseconds with the aliases and
    subqueries), so each shape is built once; the values come as bound parameters: ``f_<filter>``,
    ``category_code``, ``now``, ``offset`` and ``limit``. The queue, the overdue flag and the
    scope's value (a client kind, a department id) are few, so they are part of the shape.
    """
    q = select(Case)
    for name in equal:
        q = q.where(getattr(Case, name) == bindparam(f"f_{name}"))
    if category:
        q = q.join(Category, Category.id == Case.category_id).where(Category.code == bindparam("category_code"))
    if queue:
        q = q.where(district.queue_clause(queue))
    if overdue is not None:
        clause = _overdue_clause(bindparam("now"))
        q = q.where(clause if overdue else ~clause)
    kind, value = scope
    if kind == "client":
        q = q.where(client_case_clause(Actor.client_of(value)))
    elif kind == "department":
        q = q.where(_department_filter(value))
    count = select(func.count()).select_from(q.subquery())
    # The category and grid the view names, under names of their own (a category filter joins
    # ``Category`` itself).
    category_, grid = aliased(Category), aliased(Grid)
    page = (q.add_columns(category_.code, grid.code, _overdue_clause(bindparam("now")).label("overdue"))
            .outerjoin(category_, category_.id == Case.category_id).outerjoin(grid, grid.id == Case.grid_id)
            .order_by(Case.reported_at.desc(), Case.id.desc())
            .offset(bindparam("offset", type_=Integer)).limit(bindparam("limit", type_=Integer)))
    return count, page


@blp.route("/<int:case_id>")
class CaseOne(MethodView):
    @blp.response(200, CaseDetailSchema)
    def get(self, case_id: int) -> dict[str, Any]:
        """One case: deadlines with time left, parts, supervisions, reporters, ledger."""
        actor = current_actor()
        assert actor is not None
        case, view = load_case_view(actor, case_id, visible=True)
        now = utcnow()
        q = _detail_queries()
        # Plain SQL on the request's connection: nothing is pending to flush after the case's query.
        run = partial(db.session.connection().execute, parameters={"case_id": case.id})
        view["deadlines"] = [
            {"id": d.id, "key": d.key, "state": d.state, "clock": d.clock, "due_at": d.due_at.isoformat(),
             "status": d.status, "remaining_s": d.remaining_s,
             "seconds_left": round((d.due_at - now).total_seconds(), 1) if d.status == "pending" else None}
            for d in run(q["deadlines"])]
        view["participants"] = [
            {"department_id": p.department_id, "department": p.department, "role": p.role, "state": p.state,
             "signed_at": _iso(p.signed_at), "reported_at": _iso(p.reported_at), "result": p.result}
            # lead first, as ``handling.participants`` orders them
            for p in sorted(run(q["participants"]), key=lambda p: (p.role != "lead", p.id))]
        view["supervisions"] = [
            {"id": v.id, "method": v.method, "by_id": v.by_id, "by_name": v.by_name, "at": v.at.isoformat(),
             "requirement": v.requirement, "due_by": _iso(v.due_by), "department_id": v.department_id}
            for v in run(q["supervisions"])]
        view["reporters"] = [
            {"channel": r.channel, "external_ref": r.external_ref, "name": r.name, "phone": r.phone,
             "device_id": r.device_id, "evidence_refs": r.evidence_refs, "merged_from_case_id": r.merged_from_case_id,
             "reported_at": r.reported_at.isoformat()}
            for r in run(q["reporters"])]
        view["ledger"] = [
            {"seq": e.seq, "at": e.at.isoformat(), "trigger": e.trigger, "from": e.from_state, "to": e.to_state,
             "workflow": e.workflow, "workflow_version": e.workflow_version, "actor_id": e.actor_id,
             "role": e.actor_role, "client": e.client, "payload": e.payload, "comment": e.comment}
            for e in run(q["ledger"])]
        return view


@per_thread
def _detail_queries() -> dict[str, Any]:
    """The parts of a case's detail (``case_id`` bound at execution), built once per thread: plain
    SQL on the tables' columns, no ORM objects (the detail only shows them); a part's department
    name is joined in (no query per part)."""
    case_id = bindparam("case_id")
    dl, cp, dep = Deadline.__table__.c, CaseParticipant.__table__.c, Department.__table__
    sv, rp, le = Supervision.__table__.c, CaseReporter.__table__.c, LedgerEntry.__table__.c
    return {
        "deadlines": select(dl.id, dl.key, dl.state, dl.clock, dl.due_at, dl.status, dl.remaining_s)
        .where(dl.item_type == "case", dl.item_id == case_id).order_by(dl.id),
        "participants": select(cp.id, cp.department_id, dep.c.name.label("department"), cp.role, cp.state,
                               cp.signed_at, cp.reported_at, cp.result)
        .select_from(CaseParticipant.__table__.outerjoin(dep, dep.c.id == cp.department_id))
        .where(cp.case_id == case_id).order_by(cp.id),
        # oldest first, as ``supervision.supervisions`` orders them
        "supervisions": select(sv.id, sv.method, sv.by_id, sv.by_name, sv.at, sv.requirement, sv.due_by,
                               sv.department_id)
        .where(sv.case_id == case_id).order_by(sv.at, sv.id),
        "reporters": select(rp.channel, rp.external_ref, rp.name, rp.phone, rp.device_id, rp.evidence_refs,
                            rp.merged_from_case_id, rp.reported_at)
        .where(rp.case_id == case_id).order_by(rp.id),
        "ledger": select(le.seq, le.at, le.trigger, le.from_state, le.to_state, le.workflow, le.workflow_version,
                         le.actor_id, le.actor_role, le.client, le.payload, le.comment)
        .where(le.item_type == "case", le.item_id == case_id).order_by(le.seq),
    }


def _iso(t: Any) -> str | None:
    return t.isoformat() if t is not None else None


@blp.route("/<int:case_id>/<string:action>")
class CaseAction(MethodView):
    @idempotent
    @blp.arguments(CaseActionSchema())
    @blp.response(200, CaseSchema)
    def post(self, body: dict[str, Any], case_id: int, action: str) -> dict[str, Any]:
        """Take one step: register, verify, void, merge, change-tier, dispatch, redispatch, add-cooperating,
        sign, sign-part, report-part, result, escalate, start-joint, apply-joint, approve-joint, supervise,
        request-/approve-/reject-extension, request-/approve-/reject-deferral, withdraw-request, resume,
        check-pass, check-fail, archive, callback.

        ``withdraw-request`` (撤回申请): the handler's department that asked takes its undecided
        extension or deferral request back (optional ``reason``); no time limit changes. 409 when no
        request awaits a decision (or, on a complex or difficult case, from a co-operating department),
        403 for a handler of another department than the one that asked and for a dispatcher."""
        actor = current_actor()
        assert actor is not None
        if action not in ACTIONS:
            raise NotFound(f"no case action {action!r}")
        require_visible(actor, case_id)
        _, call = ACTIONS[action]
        case = call(db.session(), get_catalog(), case_id, actor, body)
        return load_case_view(actor, case.id, reload=True)[1]  # the case as the step left it


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
    @blp.arguments(CaseReclassifySchema())
    @blp.response(200, CaseSchema)
    def post(self, body: dict[str, Any], case_id: int) -> dict[str, Any]:
        """Correct the category (类别) and/or grid (网格) before dispatch (dispatcher; ledgered as
        ``reclassify``). The same values again change nothing; after dispatch 409."""
        actor = current_actor()
        assert actor is not None
        require_visible(actor, case_id)
        case = reclassify.reclassify(db.session(), case_id, actor=actor, category_id=_category_id(body),
                                     grid_id=_grid_id(body), reason=body["reason"], comment=body["comment"])
        return load_case_view(actor, case.id, reload=True)[1]


@blp.route("/<int:case_id>/public")
class CasePublic(MethodView):
    @idempotent
    @blp.arguments(CasePublicSchema())
    @blp.response(200, CaseSchema)
    def post(self, body: dict[str, Any], case_id: int) -> dict[str, Any]:
        """Show (``public: true``) or hide the case on the public Open311 GET endpoints, with a reason
        (dispatcher or administrator; ledgered as ``set_public``; the state does not change). An
        archived case is read-only (409)."""
        actor = current_actor()
        assert actor is not None
        require_visible(actor, case_id)
        case = open311.set_public(db.session(), case_id, actor=actor, public=body["public"], reason=body["reason"])
        return load_case_view(actor, case.id, reload=True)[1]


@blp.route("/<int:case_id>/urgent")
class CaseUrgent(MethodView):
    @idempotent
    @blp.arguments(CaseUrgentSchema())
    @blp.response(200, CaseSchema)
    def post(self, body: dict[str, Any], case_id: int) -> dict[str, Any]:
        """Mark an open case urgent (紧急, ``urgent: true``; its commanders are notified at once) or
        take the flag off with a reason (dispatcher; ledgered as ``set_urgent``; the state does not
        change). The value the case already has changes nothing; a closed, archived or void case 409."""
        actor = current_actor()
        assert actor is not None
        require_visible(actor, case_id)
        case = urgent.set_urgent(db.session(), get_catalog(), case_id, actor=actor, urgent=body["urgent"],
                                 reason=body["reason"], comment=body["comment"])
        return load_case_view(actor, case.id, reload=True)[1]
