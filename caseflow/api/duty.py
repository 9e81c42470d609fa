"""The duty watch over HTTP: rota, gaps, swaps, the duty log, roll calls, handovers, emergency mode,
special periods and a center's staffing rules.

Every route only translates: the services in :mod:`caseflow.services.duty` check, change and commit.
"""
from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from caseflow.errors import NotFound, PermissionDenied, ValidationFailed
from caseflow.extensions import db
from caseflow.models import PERIOD_KINDS, Center, DutyShift, EmergencyPeriod, Handover, utcnow
from caseflow.models.duty import ASSIGNMENT_ROLES, EMERGENCY_KINDS, LOG_TYPES
from caseflow.security.actor import Actor
from caseflow.services.access import deny, record_audit
from caseflow.services.duty import emergency, handover, log, rota, rules, special_periods
from caseflow.workflow.engine import get_catalog

from .auth import current_actor
from .pagination import HEADERS_DOC as PAGE_HEADERS
from .pagination import PageQuerySchema, paged_feed
from .schemas import ID_RANGE

blp = Blueprint("duty", __name__, url_prefix="/api/duty", description="Duty watch (值班值守)")

READ_ROLES = ("duty_lead", "duty_officer", "leader", "admin")


@blp.before_request
def _duty_staff_only() -> None:
    """The duty watch is for duty staff, leaders and administrators only: refused before any lookup,
    so other roles learn nothing about shifts, log entries or handovers (not even that they exist)."""
    actor = current_actor()
    assert actor is not None
    if not actor.has_any(*READ_ROLES):
        err = deny(actor, "use the duty watch", request.path,
                   "the duty watch is for duty staff, leaders and administrators")
        db.session.rollback()
        record_audit(db.session(), err)
        raise err


def _reader() -> Actor:
    actor = current_actor()
    assert actor is not None
    if not actor.has_any(*READ_ROLES):
        raise PermissionDenied("the duty watch is for duty staff, leaders and administrators")
    return actor


def _center(actor: Actor, center_id: int | None) -> int:
    cid = center_id or actor.center_id
    if cid is None:
        raise ValidationFailed("center_id is required", field="center_id")
    return cid


# --- schemas ---------------------------------------------------------------------------------

class CenterQuery(Schema):
    center_id = fields.Integer(load_default=None, validate=ID_RANGE)
    days_ahead = fields.Integer(load_default=3, validate=validate.Range(min=0, max=60))


class AssignmentOut(Schema):
    person_id = fields.Integer()
    role = fields.String()


class NeedsOut(Schema):
    minimum = fields.Integer(metadata={"description": "leads + officers the shift needs"})
    needs_leader = fields.Boolean(metadata={"description": "a leader on shift (带班领导) is required"})
    special = fields.String(metadata={"description": "what makes the day special, e.g. 国庆节 (节假日)"})
    kinds = fields.List(fields.String())


class ShiftOut(Schema):
    id = fields.Integer()
    center_id = fields.Integer()
    state = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    lead_id = fields.Integer(allow_none=True)
    leader_on_shift_id = fields.Integer(allow_none=True)
    data = fields.Dict()
    assignments = fields.List(fields.Nested(AssignmentOut))
    needs = fields.Nested(NeedsOut)


class RotaIn(Schema):
    center_id = fields.Integer(validate=ID_RANGE, load_default=None)
    first_day = fields.Date(required=True)
    days = fields.Integer(required=True, validate=validate.Range(min=1, max=366))
    leads = fields.List(fields.Integer(validate=ID_RANGE), required=True, validate=validate.Length(min=1))
    officers = fields.List(fields.Integer(validate=ID_RANGE), load_default=list)
    officers_per_shift = fields.Integer(load_default=1, validate=validate.Range(min=0, max=20))
    leaders = fields.List(fields.Integer(validate=ID_RANGE), load_default=list, metadata={
        "description": "leaders on shift (带班领导), in turn, for the shifts that need one (holidays, special "
                       "periods, emergency mode); a shift left without the one it needs refuses the whole rota (422)"})


STAFF_RANGE = validate.Range(min=1, max=special_periods.MAX_STAFF)


class PeriodQuery(Schema):
    center_id = fields.Integer(load_default=None, validate=ID_RANGE)
    since = fields.Date(load_default=None)
    include_cancelled = fields.Boolean(load_default=False)


class PeriodIn(Schema):
    center_id = fields.Integer(validate=ID_RANGE, load_default=None)
    kind = fields.String(required=True, validate=validate.OneOf(PERIOD_KINDS))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    first_day = fields.Date(required=True)
    last_day = fields.Date(required=True)
    min_staff = fields.Integer(load_default=None, allow_none=True, validate=STAFF_RANGE)
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class PeriodCancelIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class PeriodOut(Schema):
    id = fields.Integer()
    center_id = fields.Integer()
    kind = fields.String()
    name = fields.String()
    first_day = fields.Date()
    last_day = fields.Date()
    min_staff = fields.Integer(allow_none=True)
    note = fields.String()
    declared_at = fields.DateTime()
    declared_by_id = fields.Integer(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    cancelled_by_id = fields.Integer(allow_none=True)
    cancel_reason = fields.String()


class RulesIn(Schema):
    """Only the rules given change; null resets one to the configured default."""

    min_staff = fields.Integer(allow_none=True, validate=STAFF_RANGE)
    min_staff_holiday = fields.Integer(allow_none=True, validate=STAFF_RANGE)
    min_staff_special = fields.Integer(allow_none=True, validate=STAFF_RANGE)
    min_staff_emergency = fields.Integer(allow_none=True, validate=STAFF_RANGE)
    holiday_needs_leader = fields.Boolean(allow_none=True)
    special_needs_leader = fields.Boolean(allow_none=True)


class RulesOut(Schema):
    center_id = fields.Integer()
    min_staff = fields.Integer()
    min_staff_holiday = fields.Integer()
    min_staff_special = fields.Integer()
    min_staff_emergency = fields.Integer()
    holiday_needs_leader = fields.Boolean()
    special_needs_leader = fields.Boolean()
    own = fields.Dict(metadata={"description": "the center's own values; null means the configured default"})


class AssignIn(Schema):
    person_id = fields.Integer(validate=ID_RANGE, required=True)
    role = fields.String(required=True, validate=validate.OneOf(ASSIGNMENT_ROLES))


class SpecialIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(rota.SPECIAL_KINDS))
    leader_id = fields.Integer(validate=ID_RANGE, load_default=None, allow_none=True)


class SwapIn(Schema):
    shift_id = fields.Integer(validate=ID_RANGE, required=True)
    from_person_id = fields.Integer(validate=ID_RANGE, required=True)
    to_person_id = fields.Integer(validate=ID_RANGE, required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class SwapDecisionIn(Schema):
    approve = fields.Boolean(required=True)
    note = fields.String(load_default="")


class SwapOut(Schema):
    id = fields.Integer()
    shift_id = fields.Integer()
    from_person_id = fields.Integer()
    to_person_id = fields.Integer()
    status = fields.String()
    reason = fields.String()


class GapOut(Schema):
    shift_id = fields.Integer()
    starts_at = fields.DateTime()
    reasons = fields.List(fields.String())
    staff = fields.Integer()
    minimum = fields.Integer()
    special = fields.String()
    needs_leader = fields.Boolean()


class LogQuery(PageQuerySchema):
    """Which log and which page (per_page 200 by default)."""

    center_id = fields.Integer(validate=ID_RANGE, load_default=None)
    shift_id = fields.Integer(validate=ID_RANGE, load_default=None)


class LogIn(Schema):
    center_id = fields.Integer(validate=ID_RANGE, load_default=None)
    type = fields.String(required=True, validate=validate.OneOf(LOG_TYPES))
    summary = fields.String(load_default="")
    contact = fields.String(load_default="", validate=validate.Length(max=120))
    flagged = fields.Boolean(load_default=False)
    case_id = fields.Integer(validate=ID_RANGE, load_default=None, allow_none=True)
    instruction_id = fields.Integer(validate=ID_RANGE, load_default=None, allow_none=True)
    asked = fields.String(load_default="")
    explained = fields.String(load_default="")
    guided_to = fields.String(load_default="", validate=validate.Length(max=200))
    asked_at = fields.AwareDateTime(load_default=None, allow_none=True)
    received_at = fields.AwareDateTime(load_default=None, allow_none=True)


class LogOut(Schema):
    id = fields.Integer()
    center_id = fields.Integer()
    shift_id = fields.Integer(allow_none=True)
    type = fields.String()
    at = fields.DateTime()
    recorded_by_id = fields.Integer(allow_none=True)
    summary = fields.String()
    contact = fields.String()
    flagged = fields.Boolean()
    case_id = fields.Integer(allow_none=True)
    instruction_id = fields.Integer(allow_none=True)
    asked = fields.String()
    explained = fields.String()
    guided_to = fields.String()
    asked_at = fields.DateTime(allow_none=True)
    answered_at = fields.DateTime(allow_none=True)
    answered_by_id = fields.Integer(allow_none=True)
    received_at = fields.DateTime(allow_none=True)
    reported_to_id = fields.Integer(allow_none=True)
    reported_at = fields.DateTime(allow_none=True)
    direction = fields.String()
    done_at = fields.DateTime(allow_none=True)
    done_note = fields.String()


class ReportIn(Schema):
    reported_to_id = fields.Integer(validate=ID_RANGE, required=True)
    direction = fields.String(required=True)


class DoneIn(Schema):
    done_note = fields.String(required=True)


class FlagIn(Schema):
    flagged = fields.Boolean(required=True)


class NoteIn(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    item_id = fields.Integer(validate=ID_RANGE, load_default=None, allow_none=True)


class ReviewIn(Schema):
    note = fields.String(load_default="", validate=validate.Length(max=4000))


class HandoverItemOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    ref_type = fields.String()
    ref_id = fields.Integer()
    summary = fields.String()
    status = fields.String()
    note = fields.String()
    review_note = fields.String()
    reviewed_by_id = fields.Integer(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)


class HandoverOut(Schema):
    id = fields.Integer()
    state = fields.String()
    outgoing_shift_id = fields.Integer()
    incoming_shift_id = fields.Integer()
    due_at = fields.DateTime()
    notes = fields.List(fields.Dict())
    items = fields.List(fields.Nested(HandoverItemOut))


class EmergencyIn(Schema):
    center_id = fields.Integer(validate=ID_RANGE, load_default=None)
    kind = fields.String(required=True, validate=validate.OneOf(EMERGENCY_KINDS))
    reason = fields.String(required=True)
    scope = fields.String(required=True)


class EmergencyEndIn(Schema):
    summary = fields.String(required=True)


class EmergencyOut(Schema):
    id = fields.Integer()
    center_id = fields.Integer()
    kind = fields.String()
    reason = fields.String()
    scope = fields.String()
    started_at = fields.DateTime()
    started_by_id = fields.Integer(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    ended_by_id = fields.Integer(allow_none=True)
    summary = fields.String()


# --- views -----------------------------------------------------------------------------------

def _needs(rule: rules.ShiftRule) -> dict[str, Any]:
    return {"minimum": rule.minimum, "needs_leader": rule.needs_leader, "special": rule.label, "kinds": rule.kinds}


def shift_view(shift: DutyShift, rule: rules.ShiftRule | None = None) -> dict[str, Any]:
    """A shift with the people on it and what it needs."""
    rule = rule or rota.shift_rule(db.session(), shift)
    return {**{k: getattr(shift, k) for k in ("id", "center_id", "state", "starts_at", "ends_at", "lead_id",
                                              "leader_on_shift_id", "data")},
            "assignments": rota.assignments(db.session(), shift.id), "needs": _needs(rule)}


def shift_views(shifts: list[DutyShift]) -> list[dict[str, Any]]:
    """Shifts of one center with what each needs (one rules lookup for all)."""
    if not shifts:
        return []
    horizon = rota.emergency_horizon(db.session(), shifts[0].center_id)
    covered = [s for s in shifts if horizon is not None and s.starts_at < horizon]
    found = rules.rules_for_shifts(db.session(), shifts[0].center_id, [s for s in shifts if s not in covered])
    found.update(rules.rules_for_shifts(db.session(), shifts[0].center_id, covered, emergency=True))
    return [shift_view(s, found[s.id]) for s in shifts]


def _existing_center(center_id: int) -> int:
    if db.session.get(Center, center_id) is None:
        raise NotFound(f"center {center_id} not found")
    return center_id


def handover_view(h: Handover) -> dict[str, Any]:
    """A handover with its checklist."""
    return {"id": h.id, "state": h.state, "outgoing_shift_id": h.outgoing_shift_id,
            "incoming_shift_id": h.incoming_shift_id, "due_at": handover.handover_deadline(h.outgoing_shift),
            "notes": (h.data or {}).get("notes", []), "items": handover.items(db.session(), h.id)}


def _handover(handover_id: int) -> Handover:
    db.session.expire_all()
    h = db.session.get(Handover, handover_id)
    if h is None:
        raise NotFound(f"handover {handover_id} not found")
    return h


@blp.route("/shifts")
class Shifts(MethodView):
    @blp.arguments(CenterQuery, location="query")
    @blp.response(200, ShiftOut(many=True))
    def get(self, q: dict[str, Any]) -> list[dict[str, Any]]:
        """The center's shifts from the one on duty to ``days_ahead`` days ahead."""
        actor = _reader()
        from datetime import timedelta

        now = utcnow()
        rows = db.session.execute(select(DutyShift).where(
            DutyShift.center_id == _center(actor, q["center_id"]), DutyShift.ends_at > now - timedelta(days=1),
            DutyShift.starts_at < now + timedelta(days=q["days_ahead"] + 1)).order_by(DutyShift.starts_at)).scalars()
        return shift_views(list(rows))


@blp.route("/rota")
class Rota(MethodView):
    @blp.arguments(RotaIn)
    @blp.response(201, ShiftOut(many=True))
    def post(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Publish shifts (08:30 to 08:30) with leads, officers and, where a shift needs one, leaders on
        shift in turn. A shift needing a leader on shift that gets none refuses the whole rota:
        422 naming each such shift (``errors.leaders``, ``errors.shifts``); nothing is saved."""
        actor = current_actor()
        shifts = rota.generate_rota(db.session(), get_catalog(), _center(actor, body["center_id"]), body["first_day"],
                                    body["days"], leads=body["leads"], officers=body["officers"], actor=actor,
                                    officers_per_shift=body["officers_per_shift"], leaders=body["leaders"])
        return shift_views(shifts)


@blp.route("/shifts/<int:shift_id>/assignments")
class Assignments(MethodView):
    @blp.arguments(AssignIn)
    @blp.response(201, ShiftOut)
    def post(self, body: dict[str, Any], shift_id: int) -> dict[str, Any]:
        """Put someone on a shift as lead, officer or leader on shift."""
        rota.assign(db.session(), shift_id, body["person_id"], body["role"], actor=current_actor())
        return shift_view(db.session.get(DutyShift, shift_id))


@blp.route("/shifts/<int:shift_id>/special")
class Special(MethodView):
    @blp.arguments(SpecialIn)
    @blp.response(200, ShiftOut)
    def post(self, body: dict[str, Any], shift_id: int) -> dict[str, Any]:
        """Mark one shift special; 422 (``errors.leader_id``) when it then needs a leader on shift and has none."""
        return shift_view(rota.mark_special(db.session(), shift_id, body["kind"], body["leader_id"], actor=current_actor()))


@blp.route("/gaps")
class Gaps(MethodView):
    @blp.arguments(CenterQuery, location="query")
    @blp.response(200, GapOut(many=True))
    def get(self, q: dict[str, Any]) -> list[Any]:
        """Shifts with no lead, under the minimum staff or missing a required leader on shift."""
        actor = _reader()
        return rota.find_gaps(db.session(), _center(actor, q["center_id"]), q["days_ahead"])


@blp.route("/swaps")
class Swaps(MethodView):
    @blp.arguments(SwapIn)
    @blp.response(201, SwapOut)
    def post(self, body: dict[str, Any]) -> Any:
        """Ask to hand a place on a planned shift to someone else."""
        return rota.request_swap(db.session(), body["shift_id"], body["from_person_id"], body["to_person_id"],
                                 body["reason"], actor=current_actor())


@blp.route("/swaps/<int:swap_id>/decision")
class SwapDecision(MethodView):
    @blp.arguments(SwapDecisionIn)
    @blp.response(200, SwapOut)
    def post(self, body: dict[str, Any], swap_id: int) -> Any:
        """A leader approves or rejects a swap."""
        return rota.decide_swap(db.session(), swap_id, body["approve"], actor=current_actor(), note=body["note"])


@blp.route("/log")
class Log(MethodView):
    @blp.arguments(LogQuery, location="query")
    @blp.response(200, LogOut(many=True), headers=PAGE_HEADERS)
    def get(self, q: dict[str, Any]) -> Any:
        """The duty log, newest first, paged."""
        actor = _reader()
        return paged_feed(db.session(), log.entries_query(_center(actor, q["center_id"]), q["shift_id"]), q,
                          default=200)

    @blp.arguments(LogIn)
    @blp.response(201, LogOut)
    def post(self, body: dict[str, Any]) -> Any:
        """Write a log entry (a roll call starts its answer clock)."""
        actor = current_actor()
        center_id = _center(actor, body.pop("center_id"))
        kind = body.pop("type")
        return log.record(db.session(), get_catalog(), center_id, kind, actor=actor, **body)


@blp.route("/log/<int:entry_id>/answer")
class Answer(MethodView):
    @blp.response(200, LogOut)
    def post(self, entry_id: int) -> Any:
        """Answer a roll call."""
        return log.answer_roll_call(db.session(), get_catalog(), entry_id, actor=current_actor())


@blp.route("/log/<int:entry_id>/report")
class Report(MethodView):
    @blp.arguments(ReportIn)
    @blp.response(200, LogOut)
    def post(self, body: dict[str, Any], entry_id: int) -> Any:
        """An urgent document was reported to a principal leader, who gave this direction."""
        return log.report_urgent_document(db.session(), entry_id, body["reported_to_id"], body["direction"],
                                          actor=current_actor())


@blp.route("/log/<int:entry_id>/done")
class Done(MethodView):
    @blp.arguments(DoneIn)
    @blp.response(200, LogOut)
    def post(self, body: dict[str, Any], entry_id: int) -> Any:
        """An urgent document was done as directed."""
        return log.complete_urgent_document(db.session(), entry_id, body["done_note"], actor=current_actor())


@blp.route("/log/<int:entry_id>/flag")
class Flag(MethodView):
    @blp.arguments(FlagIn)
    @blp.response(200, LogOut)
    def post(self, body: dict[str, Any], entry_id: int) -> Any:
        """Flag an entry for the handover, or clear the flag."""
        return log.set_flag(db.session(), entry_id, body["flagged"], actor=current_actor())


@blp.route("/shifts/<int:shift_id>/handover")
class OpenHandover(MethodView):
    @blp.response(201, HandoverOut)
    def post(self, shift_id: int) -> dict[str, Any]:
        """The outgoing lead opens the handover; open items are collected."""
        h = handover.open_handover(db.session(), get_catalog(), shift_id, actor=current_actor())
        return handover_view(_handover(h.id))


@blp.route("/handovers/<int:handover_id>")
class HandoverDetail(MethodView):
    @blp.response(200, HandoverOut)
    def get(self, handover_id: int) -> dict[str, Any]:
        """A handover and its checklist."""
        _reader()
        return handover_view(_handover(handover_id))


@blp.route("/handovers/<int:handover_id>/notes")
class Notes(MethodView):
    @blp.arguments(NoteIn)
    @blp.response(200, HandoverOut)
    def post(self, body: dict[str, Any], handover_id: int) -> dict[str, Any]:
        """The outgoing lead's note, on the handover or one item."""
        handover.add_note(db.session(), get_catalog(), handover_id, body["note"], actor=current_actor(),
                          item_id=body["item_id"])
        return handover_view(_handover(handover_id))


def _simple(name: str, fn: Any, doc: str) -> None:
    def post(self: Any, handover_id: int) -> dict[str, Any]:
        fn(db.session(), get_catalog(), handover_id, actor=current_actor())
        return handover_view(_handover(handover_id))

    post.__doc__ = doc
    view = type(f"Handover{name.title()}", (MethodView,), {"post": blp.response(200, HandoverOut)(post)})
    blp.route(f"/handovers/<int:handover_id>/{name}")(view)


_simple("submit", handover.submit, "The outgoing lead hands the checklist to the incoming lead.")
_simple("refresh", handover.refresh_items, "Pick up items opened since the handover was opened.")
_simple("complete", handover.complete, "The incoming lead accepts the handover (every item must be accepted).")


@blp.route("/handovers/<int:handover_id>/items/<int:item_id>/<any(accept, dispute):verdict>")
class ReviewItem(MethodView):
    @blp.arguments(ReviewIn)
    @blp.response(200, HandoverItemOut)
    def post(self, body: dict[str, Any], handover_id: int, item_id: int, verdict: str) -> Any:
        """The incoming lead accepts or disputes one item (a dispute needs a note)."""
        if verdict == "accept":
            return handover.accept_item(db.session(), get_catalog(), handover_id, item_id, actor=current_actor(),
                                        note=body["note"])
        return handover.dispute_item(db.session(), get_catalog(), handover_id, item_id, body["note"],
                                     actor=current_actor())


@blp.route("/emergencies")
class Emergencies(MethodView):
    @blp.arguments(CenterQuery, location="query")
    @blp.response(200, EmergencyOut(many=True))
    def get(self, q: dict[str, Any]) -> list[Any]:
        """The center's emergency periods, newest first."""
        actor = _reader()
        return list(db.session.execute(select(EmergencyPeriod).where(
            EmergencyPeriod.center_id == _center(actor, q["center_id"])).order_by(EmergencyPeriod.id.desc())).scalars())

    @blp.arguments(EmergencyIn)
    @blp.response(201, EmergencyOut)
    def post(self, body: dict[str, Any]) -> Any:
        """Declare emergency mode with a reason and scope."""
        actor = current_actor()
        return emergency.declare(db.session(), _center(actor, body["center_id"]), body["kind"], body["reason"],
                                 body["scope"], actor=actor)


@blp.route("/emergencies/<int:period_id>/end")
class EndEmergency(MethodView):
    @blp.arguments(EmergencyEndIn)
    @blp.response(200, EmergencyOut)
    def post(self, body: dict[str, Any], period_id: int) -> Any:
        """End emergency mode; the summary is required."""
        return emergency.end(db.session(), period_id, body["summary"], actor=current_actor())


@blp.route("/special-periods")
class SpecialPeriods(MethodView):
    @blp.arguments(PeriodQuery, location="query")
    @blp.response(200, PeriodOut(many=True))
    def get(self, q: dict[str, Any]) -> list[Any]:
        """Special periods that apply to the center (its own and its district's)."""
        actor = _reader()
        return special_periods.list_periods(db.session(), _existing_center(_center(actor, q["center_id"])),
                                            since=q["since"], include_cancelled=q["include_cancelled"])

    @blp.arguments(PeriodIn)
    @blp.response(201, PeriodOut)
    def post(self, body: dict[str, Any]) -> Any:
        """Declare a special period (administrators and leaders): its shifts need the special-period
        minimum and a leader on shift; leaders of shifts now short are warned at once."""
        actor = current_actor()
        return special_periods.declare_period(
            db.session(), _center(actor, body["center_id"]), body["kind"], body["name"], body["first_day"],
            body["last_day"], actor=actor, min_staff=body["min_staff"], note=body["note"])


@blp.route("/special-periods/<int:period_id>/cancel")
class CancelSpecialPeriod(MethodView):
    @blp.arguments(PeriodCancelIn)
    @blp.response(200, PeriodOut)
    def post(self, body: dict[str, Any], period_id: int) -> Any:
        """Cancel a special period; the reason is required."""
        return special_periods.cancel_period(db.session(), period_id, body["reason"], actor=current_actor())


@blp.route("/centers/<int:center_id>/rules")
class CenterRules(MethodView):
    @blp.response(200, RulesOut)
    def get(self, center_id: int) -> Any:
        """The center's staffing rules in force (its own values, else the configured defaults)."""
        _reader()
        return rules.center_rules(db.session(), _existing_center(center_id))

    @blp.arguments(RulesIn)
    @blp.response(200, RulesOut)
    def patch(self, body: dict[str, Any], center_id: int) -> Any:
        """Change some of the center's staffing rules (administrators); null resets one to the default."""
        return special_periods.set_center_rules(db.session(), _existing_center(center_id), body,
                                                actor=current_actor())
