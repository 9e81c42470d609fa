"""The working calendar over HTTP: statutory holidays and make-up workdays, and the overrides on top.

``GET    /api/calendar?year=2026[&center=S01]``   the year: statutory days (``chinese-calendar``),
                                                   overrides, and a warning when the package lacks the year;
``GET    /api/calendar/days[?year=&center=]``      the overrides, by date (paged);
``PUT    /api/calendar/days``                      make a date a workday or a day off, for every center
                                                   or one (``{"day", "is_workday", "center", "note"}``);
``DELETE /api/calendar/days?day=2026-12-05[&center=S01]``  drop an override: the statutory calendar decides again.

Administrators only. Changes apply to working-time deadlines armed from then on and are ledgered
(item type ``calendar``). Routes only translate: :mod:`caseflow.services.calendar_days` changes and
commits, :mod:`caseflow.services.calendar_year` reads the statutory data.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from caseflow.errors import DomainError
from caseflow.extensions import db
from caseflow.security.actor import Actor
from caseflow.services import calendar_days, calendar_year
from caseflow.services.access import admin_role, record_audit
from caseflow.services.paging import Page

from .admin_schemas import WarningSchema
from .auth import current_actor
from .pagination import HEADERS_DOC as PAGE_HEADERS
from .pagination import PageQuerySchema, answer, page_args

blp = Blueprint("calendar_api", __name__, url_prefix="/api/calendar",
                description="The working calendar: statutory holidays and make-up workdays, and per-center "
                            "overrides (administrators)")

YEAR = validate.Range(min=calendar_year.FIRST_YEAR, max=calendar_year.LAST_YEAR)
DAY = validate.Range(min=date(calendar_year.FIRST_YEAR, 1, 1), max=date(calendar_year.LAST_YEAR, 12, 31))
CENTER = validate.Length(min=1, max=40)


def require_admin(action: str, target: str) -> Actor:
    """The calling administrator; anyone else gets 403 (kept for audit)."""
    actor = current_actor()
    assert actor is not None
    try:
        admin_role(actor, action, target, calendar_days.WHAT)
    except DomainError as err:
        db.session.rollback()
        record_audit(db.session(), err)
        raise
    return actor


def this_year() -> int:
    """The current year in the configured zone."""
    return datetime.now(ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai"))).year


class YearQuerySchema(Schema):
    """Which year, and whose overrides."""

    year = fields.Integer(validate=YEAR, metadata={"description": "default: this year"})
    center = fields.String(validate=CENTER, metadata={
        "description": "a center code: its overrides and the global ones; left out: every center's"})


class DaysQuerySchema(PageQuerySchema):
    """Which overrides to list (per_page 100 by default)."""

    year = fields.Integer(validate=YEAR, metadata={"description": "only this year's"})
    center = fields.String(validate=CENTER, metadata={"description": "a center code: its own and the global ones"})


class SetDaySchema(Schema):
    """Make ``day`` a workday or a day off."""

    day = fields.Date(required=True, validate=DAY)
    is_workday = fields.Boolean(required=True, metadata={"description": "true: a workday; false: a day off"})
    center = fields.String(load_default=None, allow_none=True, validate=CENTER,
                           metadata={"description": "a center code; left out or null: every center"})
    note = fields.String(load_default="", validate=validate.Length(max=200), metadata={"description": "why"})


class UnsetQuerySchema(Schema):
    """The override to drop."""

    day = fields.Date(required=True, validate=DAY)
    center = fields.String(validate=CENTER, metadata={"description": "a center code; left out: the global override"})


class StatutoryDaySchema(Schema):
    """A statutory day off (``holiday``, weekends inside a holiday included) or make-up workday."""

    day = fields.Date()
    kind = fields.String(metadata={"enum": ["holiday", "makeup_workday"]})
    name = fields.String(metadata={"description": "the holiday (English)"})
    name_zh = fields.String(metadata={"description": "the holiday (Chinese)"})


class CalendarDaySchema(Schema):
    """An override, with what the statutory calendar says of that date."""

    day = fields.Date()
    is_workday = fields.Boolean()
    center = fields.String(allow_none=True, metadata={"description": "the center's code; null: every center"})
    note = fields.String()
    statutory_workday = fields.Boolean(metadata={
        "description": "a workday by the statutory calendar (Monday-Friday for a year without data)"})
    holiday = fields.String(metadata={"description": "the statutory holiday the date is off or made up for, or empty"})
    changes_something = fields.Boolean(metadata={"description": "false: the override says what the statutory "
                                                                "calendar says anyway"})


class YearSchema(Schema):
    """A year of the working calendar."""

    year = fields.Integer()
    center = fields.String(allow_none=True)
    covered = fields.Boolean(metadata={"description": "chinese-calendar has the year's statutory data"})
    warning = fields.Nested(WarningSchema, allow_none=True,
                            metadata={"description": "set when the year is not covered: Monday-Friday is assumed"})
    statutory = fields.List(fields.Nested(StatutoryDaySchema))
    overrides = fields.List(fields.Nested(CalendarDaySchema))


def day_view(view: calendar_year.OverrideView) -> dict[str, Any]:
    """The API view of an override."""
    d = view.override
    return {"day": d.day, "is_workday": d.is_workday, "center": d.center_code, "note": d.note,
            "statutory_workday": view.statutory_workday, "holiday": view.holiday,
            "changes_something": view.changes_something}


def _override(d: calendar_days.CalendarDay) -> calendar_year.OverrideView:
    return calendar_year.OverrideView(d, calendar_year.statutory_workday(d.day), calendar_year.holiday_of(d.day))


@blp.route("")
class CalendarYear(MethodView):
    @blp.arguments(YearQuerySchema, location="query")
    @blp.response(200, YearSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The year's statutory holidays and make-up workdays and the overrides; ``warning`` (both
        languages) when chinese-calendar has no data for the year. 422 names an unknown center."""
        require_admin("view calendar", "calendar")
        view = calendar_year.year_view(db.session(), args.get("year") or this_year(), center_code=args.get("center"))
        db.session.rollback()  # read only
        warning = view.warning
        return {"year": view.year, "center": view.center_code, "covered": view.covered,
                "warning": {"zh": warning[0], "en": warning[1]} if warning else None,
                "statutory": [vars(s) for s in view.statutory], "overrides": [day_view(o) for o in view.overrides]}


@blp.route("/days")
class CalendarDays(MethodView):
    @blp.arguments(DaysQuerySchema, location="query")
    @blp.response(200, CalendarDaySchema(many=True), headers=PAGE_HEADERS)
    def get(self, args: dict[str, Any]) -> Any:
        """The overrides by date (ties: global first), paged; ``year`` and ``center`` narrow them."""
        require_admin("view calendar", "calendar")
        number, size = page_args(args, 100)
        days = calendar_days.list_days(db.session(), year=args.get("year"), center_code=args.get("center"))
        db.session.rollback()
        page = Page(days[(number - 1) * size:number * size], len(days), number, size)
        return answer(page, lambda rows: [day_view(_override(d)) for d in rows])

    @blp.arguments(SetDaySchema)
    @blp.response(200, CalendarDaySchema)
    @blp.alt_response(409, response="CONFLICT")
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Make ``day`` a workday or a day off, for every center or one (ledgered ``set_calendar_day``).
        Deadlines armed from now on follow it. 422 names the field (e.g. an unknown center)."""
        actor = require_admin("set calendar day", str(body["day"]))
        db.session.rollback()  # the service owns its transaction
        saved = calendar_days.set_day(db.session(), actor=actor, day=body["day"], is_workday=body["is_workday"],
                                      center_code=body["center"] or None, note=body["note"].strip())
        return day_view(_override(saved))

    @blp.arguments(UnsetQuerySchema, location="query")
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def delete(self, args: dict[str, Any]) -> None:
        """Drop the override of ``day`` (the center's, or the global one): the statutory calendar decides
        it again (ledgered ``remove_calendar_day``). 404 when there is no such override."""
        actor = require_admin("remove calendar day", str(args["day"]))
        db.session.rollback()
        calendar_days.remove_day(db.session(), actor=actor, day=args["day"], center_code=args.get("center"))
