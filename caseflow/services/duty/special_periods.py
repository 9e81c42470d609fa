"""Special periods (特殊时期) and a center's staffing rules, as set by administrators and leaders.

A special period (a major event such as an expo, a sensitive period, forecast typhoon or snow
and ice, a local holiday) covers local days ``first_day``..``last_day``; the shifts starting on
those days need the special-period minimum and, by default, a leader on shift (:mod:`.rules`).
A period declared for a district center covers the street centers under it. Declaring or
cancelling one is ledgered on the center (ledger item ``center``/<id>, beside the emergency
switches) and warns the leaders of the shifts it leaves short at once; rota publication and
import then refuse shifts without the leader they need.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.errors import Conflict, NotFound, ValidationFailed
from caseflow.models import PERIOD_KINDS, Center, DutyCenterRule, DutySpecialPeriod, utcnow
from caseflow.security.actor import Actor
from caseflow.services import ledger
from caseflow.services.access import admin_role
from caseflow.services.unit_of_work import unit_of_work

from .common import require_role
from .rules import RULE_DEFAULTS, CenterRules, center_chain, center_rules

PERIOD_ROLES = ("admin", "leader", "system")
MAX_STAFF = 50
MAX_PERIOD_DAYS = 366


def _lock_center(session: Session, center_id: int) -> Center:
    center = session.execute(select(Center).where(Center.id == center_id).with_for_update()).scalar_one_or_none()
    if center is None:
        raise ValidationFailed(f"center {center_id} does not exist", field="center_id")
    return center


def _staff(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_STAFF:
        raise ValidationFailed(f"{field} must be a whole number from 1 to {MAX_STAFF}", field=field)
    return value


def centers_below(session: Session, center_id: int) -> list[int]:
    """The center and every center under it (a district's streets)."""
    found = [center_id]
    frontier = [center_id]
    while frontier:
        frontier = [c for c in session.execute(select(Center.id).where(Center.parent_id.in_(frontier))).scalars()
                    if c not in found]
        found += frontier
    return found


def _warn(session: Session, center_id: int, effects: Any) -> None:
    from .rota import warn_gaps  # rota imports the rules this module writes

    for cid in centers_below(session, center_id):
        warn_gaps(session, cid, effects=effects, commit=False)


def declare_period(session: Session, center_id: int, kind: str, name: str, first_day: date, last_day: date, *,
                   actor: Actor, min_staff: int | None = None, note: str = "") -> DutySpecialPeriod:
    """Declare a special period for a center (and the centers under it); ledgered; commits.

    The leaders of shifts now short of staff or of a leader on shift are warned at once.
    """
    role = require_role(actor, PERIOD_ROLES, "declaring a special period")
    if kind not in PERIOD_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(PERIOD_KINDS)}", field="kind")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name is required (e.g. 进博会)", field="name")
    if len(name) > 120:
        raise ValidationFailed("name must be at most 120 characters", field="name")
    if last_day < first_day:
        raise ValidationFailed("last_day must not be before first_day", field="last_day")
    if (last_day - first_day).days >= MAX_PERIOD_DAYS:
        raise ValidationFailed(f"a special period covers at most {MAX_PERIOD_DAYS} days", field="last_day")
    min_staff = _staff(min_staff, "min_staff")
    with unit_of_work(session, what="special period") as effects:
        _lock_center(session, center_id)
        now = utcnow()
        period = DutySpecialPeriod(center_id=center_id, kind=kind, name=name, first_day=first_day,
                                   last_day=last_day, min_staff=min_staff, note=(note or "").strip(),
                                   declared_at=now, declared_by_id=actor.person_id, cancel_reason="")
        session.add(period)
        session.flush()
        ledger.append(session, item_type="center", item_id=center_id, trigger="declare_special_period",
                      actor=actor, role=role, at=now, from_state=None, to_state=None, payload={
                          "period_id": period.id, "kind": kind, "name": name, "first_day": first_day.isoformat(),
                          "last_day": last_day.isoformat(), "min_staff": min_staff, "note": period.note})
        _warn(session, center_id, effects)
    return period


def cancel_period(session: Session, period_id: int, reason: str, *, actor: Actor) -> DutySpecialPeriod:
    """Cancel a special period (the reason is required); ledgered; commits."""
    role = require_role(actor, PERIOD_ROLES, "cancelling a special period")
    if not (reason or "").strip():
        raise ValidationFailed("reason is required to cancel a special period", field="reason")
    with unit_of_work(session, what="special period"):
        period = session.get(DutySpecialPeriod, period_id)
        if period is None:
            raise NotFound(f"special period {period_id} not found")
        _lock_center(session, period.center_id)
        session.refresh(period)
        if period.cancelled_at is not None:
            raise Conflict(f"special period {period_id} is already cancelled",
                           details={"cancelled_at": period.cancelled_at.isoformat()})
        now = utcnow()
        period.cancelled_at, period.cancelled_by_id, period.cancel_reason = now, actor.person_id, reason.strip()
        ledger.append(session, item_type="center", item_id=period.center_id, trigger="cancel_special_period",
                      actor=actor, role=role, at=now, from_state=None, to_state=None,
                      payload={"period_id": period.id, "reason": period.cancel_reason})
    return period


def list_periods(session: Session, center_id: int, *, since: date | None = None,
                 include_cancelled: bool = False) -> list[DutySpecialPeriod]:
    """Periods that apply to the center (its own and its district's), ending on or after ``since``."""
    query = select(DutySpecialPeriod).where(DutySpecialPeriod.center_id.in_(center_chain(session, center_id)))
    if since is not None:
        query = query.where(DutySpecialPeriod.last_day >= since)
    if not include_cancelled:
        query = query.where(DutySpecialPeriod.cancelled_at.is_(None))
    return list(session.execute(query.order_by(DutySpecialPeriod.first_day, DutySpecialPeriod.id)).scalars())


def set_center_rules(session: Session, center_id: int, changes: dict[str, Any], *, actor: Actor) -> CenterRules:
    """Set (or, with None, reset to the default) some of a center's staffing rules; administrators
    only; ledgered with the values before and after; commits. Returns the rules now in force."""
    role = admin_role(actor, "set duty rules", f"center/{center_id}", "the duty staffing rules")
    unknown = sorted(set(changes) - set(RULE_DEFAULTS))
    if unknown:
        raise ValidationFailed(f"unknown rule {', '.join(unknown)}", field=unknown[0])
    if not changes:
        raise ValidationFailed("give at least one rule to change", field="rules")
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key.endswith("_leader"):
            if value is not None and not isinstance(value, bool):
                raise ValidationFailed(f"{key} must be true, false or null", field=key)
            clean[key] = value
        else:
            clean[key] = _staff(value, key)
    with unit_of_work(session, what="duty rules"):
        _lock_center(session, center_id)
        row = session.get(DutyCenterRule, center_id)
        if row is None:
            row = DutyCenterRule(center_id=center_id)
            session.add(row)
        before = {k: getattr(row, k) for k in clean}
        for key, value in clean.items():
            setattr(row, key, value)
        now = utcnow()
        row.updated_at, row.updated_by_id = now, actor.person_id
        session.flush()
        ledger.append(session, item_type="center", item_id=center_id, trigger="set_duty_rules", actor=actor,
                      role=role, at=now, from_state=None, to_state=None, payload={"before": before, "after": clean})
    return center_rules(session, center_id)

