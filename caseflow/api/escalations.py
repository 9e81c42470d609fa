"""Escalations in progress, running deadlines and the notification outbox.

``GET /api/escalations`` who has been told and who acknowledged; ``POST .../acknowledge``;
``GET /api/deadlines`` running deadlines with the time left; ``GET /api/notifications`` and
``POST .../retry`` the outbox and its dead letters (admins and duty leads).
Handlers see only the items of their own department, as everywhere in the API.
"""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import and_, false, or_, select

from caseflow.deadlines import escalation
from caseflow.errors import NotFound
from caseflow.extensions import db
from caseflow.models import ITEM_MODELS, Deadline, EscalationRun, Notification, utcnow
from caseflow.notify import outbox
from caseflow.notify.webhook import safe_url
from caseflow.security.actor import Actor
from caseflow.services import transition
from caseflow.services.access import UNSCOPED_ROLES, can_see_department_item, deny, record_audit
from caseflow.services.escalation_views import runs_view
from caseflow.services.overdue import overdue_clause

from .auth import current_actor
from .pagination import HEADERS_DOC as PAGE_HEADERS
from .pagination import PageQuerySchema, paged_feed, where_given
from .schemas import ID_RANGE

blp = Blueprint("escalations", __name__, url_prefix="/api",
                description="Escalations, running deadlines and the notification outbox")

RUN_STATUSES = ("active", "acknowledged", "stopped", "done")
OUTBOX_ROLES = ("admin", "duty_lead")


# --- schemas ---------------------------------------------------------------------------------

class _ItemFilter(PageQuerySchema):
    """The item filters and the paging every list here shares (per_page 100 by default)."""

    item_type = fields.String(load_default=None, validate=validate.OneOf(sorted(ITEM_MODELS)))
    item_id = fields.Integer(load_default=None, validate=ID_RANGE)


class EscalationQuerySchema(_ItemFilter):
    """Filters for the escalation list."""

    status = fields.String(load_default="active", validate=validate.OneOf((*RUN_STATUSES, "all")))


class NoticeSchema(Schema):
    """One person told at one round."""

    person_id = fields.Integer(allow_none=True)
    person_name = fields.String()
    target = fields.String()
    target_label = fields.String()
    step_index = fields.Integer()
    repeat_index = fields.Integer()
    notified_at = fields.DateTime()
    channels = fields.List(fields.String(), metadata={"description": "outbox channels used for this person"})


class EscalationSchema(Schema):
    """An escalation run with who has been told and who acknowledged."""

    id = fields.Integer()
    item_type = fields.String()
    item_id = fields.Integer()
    chain = fields.String()
    status = fields.String()
    state = fields.String()
    mode = fields.String()
    step_index = fields.Integer()
    repeat_index = fields.Integer()
    steps = fields.List(fields.Dict())
    deadline_id = fields.Integer(allow_none=True)
    started_at = fields.DateTime()
    next_at = fields.DateTime(allow_none=True)
    acknowledged_at = fields.DateTime(allow_none=True)
    acknowledged_by_id = fields.Integer(allow_none=True)
    acknowledged_by_name = fields.String(allow_none=True)
    notices = fields.List(fields.Nested(NoticeSchema))


class AcknowledgeSchema(Schema):
    """Acknowledge an escalation (optionally with a note for the ledger)."""

    comment = fields.String(load_default="", validate=validate.Length(max=2000))


class DeadlineQuerySchema(_ItemFilter):
    """Filters for running deadlines."""

    overdue = fields.Boolean(load_default=None, allow_none=True)


class DeadlineSchema(Schema):
    """A running (pending) or overdue (pending or fired, item still concerned) deadline."""

    id = fields.Integer()
    item_type = fields.String()
    item_id = fields.Integer()
    key = fields.String()
    state = fields.String()
    status = fields.String()
    clock = fields.String()
    armed_at = fields.DateTime()
    due_at = fields.DateTime()
    seconds_left = fields.Float()
    overdue = fields.Boolean()
    on_expiry = fields.Dict()


class NotificationQuerySchema(_ItemFilter):
    """Filters for the outbox."""

    status = fields.String(load_default=None, validate=validate.OneOf(("pending", "sent", "dead")))


class NotificationSchema(Schema):
    """One outbox row; URL addresses are shown without their secret query string."""

    id = fields.Integer()
    channel = fields.String()
    address = fields.String()
    person_id = fields.Integer(allow_none=True)
    item_type = fields.String()
    item_id = fields.Integer(allow_none=True)
    subject = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime()
    last_error = fields.String()
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


# --- scope helpers ---------------------------------------------------------------------------

def _department_clause(actor: Actor, type_col: Any, id_col: Any) -> Any:
    """SQL pre-filter: rows whose item is held by the actor's department."""
    if actor.department_id is None:
        return false()
    parts = [
        and_(type_col == item_type, id_col.in_(select(model.id).where(model.department_id == actor.department_id)))  # type: ignore[attr-defined]
        for item_type, model in ITEM_MODELS.items() if hasattr(model, "department_id")
    ]
    return or_(*parts) if parts else false()


def _visible(actor: Actor, item_type: str, item_id: int, cache: dict[tuple[str, int], bool]) -> bool:
    key = (item_type, item_id)
    if key not in cache:
        model = ITEM_MODELS.get(item_type)
        item = db.session.get(model, item_id) if model else None
        cache[key] = item is not None and can_see_department_item(actor, transition.department_scope(item))
    return cache[key]


def _listed(query: Any, args: dict[str, Any], actor: Actor, type_col: Any, id_col: Any) -> Any:
    """The shared part of these lists' queries: the item filters, then the caller's scope in SQL
    (handlers: items their department holds; machine clients: none), so pages and totals count
    only rows the caller may see. Rows are checked again one by one (:func:`_visible_only`)."""
    query = where_given(query, args, {"item_type": type_col, "item_id": id_col})
    if actor.roles & UNSCOPED_ROLES:
        return query
    if actor.client:
        return query.where(false())
    return query.where(_department_clause(actor, type_col, id_col))


def _visible_only(actor: Actor, rows: list[Any]) -> list[Any]:
    cache: dict[tuple[str, int], bool] = {}
    return [r for r in rows if _visible(actor, r.item_type, r.item_id, cache)]


# --- views -----------------------------------------------------------------------------------

@blp.route("/escalations")
class Escalations(MethodView):
    @blp.arguments(EscalationQuerySchema, location="query")
    @blp.response(200, EscalationSchema(many=True), headers=PAGE_HEADERS)
    def get(self, args: dict[str, Any]) -> Any:
        """Escalations (default: active), newest first, paged, with who was told and who acknowledged."""
        actor: Actor = current_actor()  # type: ignore[assignment]
        query = select(EscalationRun).order_by(EscalationRun.id.desc())
        if args["status"] != "all":
            query = query.where(EscalationRun.status == args["status"])
        query = _listed(query, args, actor, EscalationRun.item_type, EscalationRun.item_id)
        return paged_feed(db.session(), query, args, default=100,
                          views=lambda runs: runs_view(db.session(), _visible_only(actor, runs)))


@blp.route("/escalations/<int:run_id>/acknowledge")
class Acknowledge(MethodView):
    @blp.arguments(AcknowledgeSchema)
    @blp.response(200, EscalationSchema)
    def post(self, body: dict[str, Any], run_id: int) -> dict[str, Any]:
        """Acknowledge an escalation: no further rounds. 403 unless told in it or a leader,
        duty lead or admin; 409 when already acknowledged or stopped."""
        actor = current_actor()
        run = db.session.get(EscalationRun, run_id)
        if run is None or not _visible(actor, run.item_type, run.item_id, {}):  # type: ignore[arg-type]
            raise NotFound(f"escalation {run_id} not found")
        db.session.rollback()  # the service takes its own locks
        run = escalation.acknowledge(db.session(), run_id, actor, comment=body["comment"])  # type: ignore[arg-type]
        return runs_view(db.session(), [run])[0]


@blp.route("/deadlines")
class Deadlines(MethodView):
    @blp.arguments(DeadlineQuerySchema, location="query")
    @blp.response(200, DeadlineSchema(many=True), headers=PAGE_HEADERS)
    def get(self, args: dict[str, Any]) -> Any:
        """Running deadlines, soonest first, paged, with seconds left (negative: overdue).

        Overdue ones include deadlines that already fired while the item is still in the state
        they concern (e.g. an instruction marked late): the console's definition, shared.
        """
        actor: Actor = current_actor()  # type: ignore[assignment]
        now = utcnow()
        running = and_(Deadline.status == "pending", Deadline.due_at > now)
        if args["overdue"] is True:
            where = overdue_clause(now)
        elif args["overdue"] is False:
            where = running
        else:
            where = or_(running, overdue_clause(now))
        query = select(Deadline).where(where).order_by(Deadline.due_at, Deadline.id)
        query = _listed(query, args, actor, Deadline.item_type, Deadline.item_id)
        return paged_feed(db.session(), query, args, default=100,
                          views=lambda rows: [deadline_view(d, now) for d in _visible_only(actor, rows)])


def deadline_view(d: Deadline, now: Any) -> dict[str, Any]:
    """The API view of a deadline, with the seconds left at ``now``."""
    left = (d.due_at - now).total_seconds()
    return {"id": d.id, "item_type": d.item_type, "item_id": d.item_id, "key": d.key, "state": d.state,
            "status": d.status, "clock": d.clock, "armed_at": d.armed_at, "due_at": d.due_at,
            "seconds_left": round(left, 1), "overdue": left <= 0, "on_expiry": d.on_expiry or {}}


def _require_outbox_role(action: str) -> Actor:
    actor = current_actor()
    if not actor.has_any(*OUTBOX_ROLES):  # type: ignore[union-attr]
        err = deny(actor, action, "notifications", "only admins and duty leads see the outbox")  # type: ignore[arg-type]
        db.session.rollback()
        record_audit(db.session(), err)
        raise err
    return actor  # type: ignore[return-value]


def notification_view(n: Notification) -> dict[str, Any]:
    """The API view of an outbox row (URL secrets stripped)."""
    address = safe_url(n.address) if n.channel in ("webhook", "wecom") else n.address
    return {"id": n.id, "channel": n.channel, "address": address, "person_id": n.person_id,
            "item_type": n.item_type, "item_id": n.item_id, "subject": n.subject, "status": n.status,
            "attempts": n.attempts, "next_attempt_at": n.next_attempt_at, "last_error": n.last_error,
            "created_at": n.created_at, "sent_at": n.sent_at}


@blp.route("/notifications")
class Notifications(MethodView):
    @blp.arguments(NotificationQuerySchema, location="query")
    @blp.response(200, NotificationSchema(many=True), headers=PAGE_HEADERS)
    def get(self, args: dict[str, Any]) -> Any:
        """The outbox, newest first, paged; ``?status=dead`` for the dead letters. Admins and duty leads."""
        _require_outbox_role("list notifications")
        query = where_given(select(Notification).order_by(Notification.id.desc()), args, {
            "status": Notification.status, "item_type": Notification.item_type, "item_id": Notification.item_id})
        return paged_feed(db.session(), query, args, default=100,
                          views=lambda rows: [notification_view(n) for n in rows])


@blp.route("/notifications/<int:notification_id>/retry")
class RetryNotification(MethodView):
    @blp.response(200, NotificationSchema)
    def post(self, notification_id: int) -> dict[str, Any]:
        """Give a dead notification a fresh set of attempts. 409 unless it is dead."""
        _require_outbox_role("retry notification")
        db.session.rollback()
        return notification_view(outbox.retry_dead(db.session(), notification_id))
