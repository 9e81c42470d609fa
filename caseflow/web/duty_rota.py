"""The duty watch page's rota and swaps (换班): the center's coming shifts with who is on them,
asking to hand one's place on a planned shift to someone else, and a leader's decision.

As the API allows: anyone asks for their own place; shift leads, leaders and administrators ask
for someone else's; leaders and administrators decide. A child of the ``duty_console``
blueprint; each form runs its service once (:func:`caseflow.web.duty_forms.run_once`).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from caseflow.extensions import db
from caseflow.models import DutyAssignment, DutyShift, Person, PersonRole, SwapRequest, utcnow
from caseflow.services.duty import rota

from .console_forms import text, whole
from .duty_forms import center_for, run_once
from .duty_modes import back_to_watch
from .guards import login_required
from .i18n import t
from .work import me

bp = Blueprint("rota", __name__)

SWAP_ROLES = ("duty_lead", "duty_officer", "leader", "admin")
DECIDE_ROLES = ("leader", "admin")
DAYS_SHOWN = 7
ROLE_ORDER = {"duty_lead": 0, "leader_on_shift": 1, "duty_officer": 2}


def rota_context(session: Session, center_id: int | None, person: Person, roles: set[str]) -> dict[str, Any]:
    """The center's shifts of the coming days with their people, the swaps asked for them, and
    the people a place may go to: a fixed number of queries."""
    if center_id is None:
        return {"shifts": [], "places": {}, "swaps": [], "swap_people": [], "names": {}}
    now = utcnow()
    shifts = list(session.execute(select(DutyShift).where(
        DutyShift.center_id == center_id, DutyShift.ends_at > now, DutyShift.starts_at < now + timedelta(days=DAYS_SHOWN))
        .order_by(DutyShift.starts_at)).scalars())
    ids = [s.id for s in shifts]
    places: dict[int, list[DutyAssignment]] = {i: [] for i in ids}
    for a in session.execute(select(DutyAssignment).where(DutyAssignment.shift_id.in_(ids or [0]))).scalars():
        places[a.shift_id].append(a)
    for rows in places.values():
        rows.sort(key=lambda a: (ROLE_ORDER.get(a.role, 9), a.id))
    swaps = list(session.execute(select(SwapRequest).where(
        SwapRequest.shift_id.in_(ids or [0]),
        or_(SwapRequest.status == "requested", SwapRequest.decided_at > now - timedelta(days=DAYS_SHOWN)))
        .order_by(SwapRequest.id.desc())).scalars())
    swap_people = list(session.execute(
        select(Person).join(PersonRole, PersonRole.person_id == Person.id).where(
            Person.center_id == center_id, Person.active.is_(True),
            PersonRole.role.in_(("duty_lead", "duty_officer", "leader"))).distinct().order_by(Person.full_name, Person.id)
    ).scalars())
    wanted = {a.person_id for rows in places.values() for a in rows} | {s.from_person_id for s in swaps} \
        | {s.to_person_id for s in swaps}
    names = {p.id: p.full_name for p in swap_people}
    missing = wanted - set(names)
    if missing:
        names |= {p.id: p.full_name for p in session.execute(select(Person).where(Person.id.in_(missing))).scalars()}
    for_others = bool(roles & set(rota.ROTA_ROLES))
    mine = {s.id for s in shifts if any(a.person_id == person.id for a in places[s.id])}
    return {
        "shifts": shifts, "places": places, "swaps": swaps, "swap_people": swap_people, "names": names,
        "swap_shifts": [s for s in shifts if s.state == "planned" and (for_others or s.id in mine)],
        "swap_for_others": for_others, "can_decide": bool(roles & set(DECIDE_ROLES)),
    }


@bp.post("/swaps")
@login_required(roles=list(SWAP_ROLES))
def request_swap() -> Response:
    """Ask to hand a place on a planned shift to someone else (one's own unless allowed more)."""
    person, actor = me()

    def call() -> Any:
        shift_id = whole("shift_id", required=True)
        from_id = whole("from_person_id") or person.id
        return rota.request_swap(db.session(), shift_id, from_id, whole("to_person_id", required=True),  # type: ignore[arg-type]
                                 text("reason", required=True), actor=actor)

    return run_once(call, t("flash.done.swap.request"), lambda _r: back_to_watch(center_for(person), "rota"))


@bp.post("/swaps/<int:swap_id>/<any(approve, reject):verdict>")
@login_required(roles=list(DECIDE_ROLES))
def decide(swap_id: int, verdict: str) -> Response:
    """A leader approves (the place changes hands) or rejects a swap."""
    person, actor = me()

    def call() -> Any:
        note = text("note")
        return rota.decide_swap(db.session(), swap_id, verdict == "approve", actor=actor, note=note)

    ok = t("flash.done.swap." + verdict)
    return run_once(call, ok, lambda _r: back_to_watch(center_for(person), "rota"))
