"""The working calendar in the console (工作日历, /admin/calendar), for administrators.

``GET /admin/calendar?year=2026&center=S01`` shows the year's statutory holidays and make-up
workdays (``chinese-calendar``), the overrides on top (a center's own and the global ones; every
center's without ``center``), and a warning when the package has no data for the year.
``POST /admin/calendar/set`` makes a date a workday or a day off (for every center or one);
``POST /admin/calendar/unset`` drops an override. Both come back to the year of the date.

The page only translates: :mod:`caseflow.services.calendar_days` checks the administrator,
changes, ledgers and commits (as for ``caseflow calendar`` and ``/api/calendar``).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from caseflow.errors import ValidationFailed
from caseflow.extensions import db
from caseflow.models import Center
from caseflow.services import calendar_days, calendar_year

from .console_forms import attempt, text
from .guards import ADMIN_ROLES, login_required
from .i18n import t
from .work import me

bp = Blueprint("calendar_admin", __name__, url_prefix="/admin/calendar")

# What a refusal names, in the page's words.
LABELS = {"day": "cal.day", "is_workday": "cal.kind", "center": "adm.center", "note": "cal.note", "year": "cal.year"}


def _labels() -> dict[str, str]:
    return {name: t(key) for name, key in LABELS.items()}


def today() -> date:
    """Today in the configured zone."""
    return datetime.now(ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai"))).date()


def this_year() -> int:
    """The current year in the configured zone."""
    return today().year


def _year(raw: str | None) -> int:
    """The year asked for; this year when it is missing or out of range."""
    if raw and raw.isdigit() and len(raw) == 4 and calendar_year.FIRST_YEAR <= int(raw) <= calendar_year.LAST_YEAR:
        return int(raw)
    return this_year()


def _centers() -> list[Center]:
    return list(db.session.execute(select(Center).order_by(Center.code)).scalars())


def _center_code(raw: str | None, centers: list[Center]) -> str | None:
    """A known center's code, else None (every center)."""
    return raw if raw and raw in {c.code for c in centers} else None


@bp.get("")
@login_required(roles=ADMIN_ROLES)
def page() -> str:
    """The year's statutory days, overrides, and the forms to set and drop overrides."""
    centers = _centers()
    year = _year(request.args.get("year"))
    center = _center_code(request.args.get("center"), centers)
    view = calendar_year.year_view(db.session(), year, center_code=center)
    db.session.rollback()  # read only
    return render_template("admin/calendar.html", view=view, year=year, center=center, centers=centers,
                           names={c.code: c.name for c in centers}, first=calendar_year.FIRST_YEAR,
                           last=calendar_year.LAST_YEAR, today=today().isoformat())


def _day() -> date:
    raw = (request.form.get("day") or "").strip()
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(t("cal.error.day"), field="day") from None
    calendar_year.check_year(day.year, "day")
    return day


def _back(day: date | None) -> Response:
    """To the page of the date's year (or the year the form was on), with the center the form was on."""
    year = day.year if day else _year(request.form.get("year"))
    view_center = (request.form.get("view_center") or "").strip() or None
    return redirect(url_for("calendar_admin.page", year=year, center=view_center))


@bp.post("/set")
@login_required(roles=ADMIN_ROLES)
def set_day() -> Response:
    """Make the date a workday or a day off (for every center, or the one chosen)."""
    _, actor = me()
    chosen: dict[str, Any] = {}

    def call() -> Any:
        chosen["day"] = day = _day()
        kind = (request.form.get("is_workday") or "").strip()
        if kind not in ("1", "0"):
            raise ValidationFailed(t("form.choose"), field="is_workday")
        center = (request.form.get("center") or "").strip() or None
        return calendar_days.set_day(db.session(), actor=actor, day=day, is_workday=kind == "1",
                                     center_code=center, note=text("note", max_len=200))

    attempt(call, t("cal.done.set"), _labels())
    return _back(chosen.get("day"))


@bp.post("/unset")
@login_required(roles=ADMIN_ROLES)
def unset_day() -> Response:
    """Drop an override: the statutory calendar decides the date again."""
    _, actor = me()
    chosen: dict[str, Any] = {}

    def call() -> Any:
        chosen["day"] = day = _day()
        center = (request.form.get("center") or "").strip() or None
        return calendar_days.remove_day(db.session(), actor=actor, day=day, center_code=center)

    attempt(call, t("cal.done.unset"), _labels())
    return _back(chosen.get("day"))
