"""The duty watch page's emergency mode (平急转换) and special periods (特殊时期): declaring emergency
mode with a reason and scope and ending it with a summary (leaders, shift leads, administrators),
declaring and cancelling special periods (leaders and administrators), as the API allows.

A child of the ``duty_console`` blueprint (/duty/watch/...); each form runs its service once
(:func:`caseflow.web.duty_forms.run_once`).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from caseflow.errors import ValidationFailed
from caseflow.extensions import db
from caseflow.models import PERIOD_KINDS, EmergencyPeriod, Person
from caseflow.models.duty import EMERGENCY_KINDS
from caseflow.services.duty import emergency, special_periods
from caseflow.services.duty.emergency import DECLARE_ROLES
from caseflow.services.duty.overview import duty_day
from caseflow.workflow.engine import get_catalog

from .console_forms import choice, text, whole
from .duty_forms import center_for, day, run_once
from .guards import login_required
from .i18n import t
from .work import me

bp = Blueprint("modes", __name__)

PERIOD_ROLES = ("admin", "leader")
EMERGENCY_HISTORY = 5


def back_to_watch(center_id: int | None, anchor: str) -> Response:
    """The duty watch page of ``center_id``, at ``anchor``."""
    return redirect(url_for("duty_console.watch", center_id=center_id) + "#" + anchor)


def modes_context(session: Session, center_id: int | None, roles: set[str]) -> dict[str, Any]:
    """Emergency mode and special periods of the center, and what the person may do about them."""
    if center_id is None:
        return {"emergency": None, "emergencies": [], "periods": [], "people_by_id": {}}
    recent = list(session.execute(select(EmergencyPeriod).where(EmergencyPeriod.center_id == center_id)
                                  .order_by(EmergencyPeriod.id.desc()).limit(EMERGENCY_HISTORY)).scalars())
    active = next((p for p in recent if p.ended_at is None), None) or emergency.active_period(session, center_id)
    periods = special_periods.list_periods(session, center_id, since=duty_day())
    ids = {p.started_by_id for p in recent} | {p.ended_by_id for p in recent} | {p.declared_by_id for p in periods}
    people = {p.id: p for p in session.execute(select(Person).where(Person.id.in_(ids - {None}))).scalars()}
    return {
        "emergency": active, "emergencies": recent, "periods": periods, "people_by_id": people,
        "emergency_kinds": EMERGENCY_KINDS, "period_kinds": PERIOD_KINDS,
        "can_declare": bool(roles & set(DECLARE_ROLES)), "can_periods": bool(roles & set(PERIOD_ROLES)),
    }


@bp.post("/emergency")
@login_required(roles=list(DECLARE_ROLES))
def declare() -> Response:
    """Switch the center to emergency mode: a kind, the reason and the scope are required."""
    person, actor = me()
    center_id = center_for(person)

    def call() -> Any:
        if center_id is None:
            raise ValidationFailed(t("duty.no_center"))
        return emergency.declare(db.session(), center_id, choice("kind", EMERGENCY_KINDS), text("reason", required=True),
                                 text("scope", required=True), actor=actor, catalog=get_catalog())

    return run_once(call, t("flash.done.emergency.declare"), lambda _r: back_to_watch(center_id, "emergency"),
                    {"kind": t("field.emergency_kind"), "scope": t("field.scope")})


@bp.post("/emergency/<int:period_id>/end")
@login_required(roles=list(DECLARE_ROLES))
def end(period_id: int) -> Response:
    """Switch back to normal mode; the summary is required."""
    person, actor = me()

    def call() -> Any:
        return emergency.end(db.session(), period_id, text("summary", required=True, max_len=8000), actor=actor)

    return run_once(call, t("flash.done.emergency.end"), lambda _r: back_to_watch(center_for(person), "emergency"),
                    {"summary": t("field.emergency_summary")})


@bp.post("/periods")
@login_required(roles=list(PERIOD_ROLES))
def declare_period() -> Response:
    """Declare a special period for the center (and the centers under it)."""
    person, actor = me()
    center_id = center_for(person)

    def call() -> Any:
        if center_id is None:
            raise ValidationFailed(t("duty.no_center"))
        return special_periods.declare_period(
            db.session(), center_id, choice("kind", PERIOD_KINDS), text("name", required=True, max_len=120),
            day("first_day"), day("last_day"), actor=actor, min_staff=whole("min_staff", high=special_periods.MAX_STAFF),
            note=text("note"))

    return run_once(call, t("flash.done.period.declare"), lambda _r: back_to_watch(center_id, "special-periods"),
                    {"kind": t("field.period_kind"), "name": t("field.period_name")})


@bp.post("/periods/<int:period_id>/cancel")
@login_required(roles=list(PERIOD_ROLES))
def cancel_period(period_id: int) -> Response:
    """Cancel a special period; the reason is required."""
    person, actor = me()

    def call() -> Any:
        return special_periods.cancel_period(db.session(), period_id, text("reason", required=True), actor=actor)

    return run_once(call, t("flash.done.period.cancel"), lambda _r: back_to_watch(center_for(person), "special-periods"),
                    {"reason": t("field.cancel_reason")})
