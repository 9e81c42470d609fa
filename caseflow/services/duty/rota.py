"""The rota (排班): 08:30-to-08:30 shifts per center, leads and officers, special periods,
swaps, and gaps warned to the center's leaders days ahead.

What each shift needs (minimum staff, a leader on shift) comes from :mod:`.rules`. A shift that
needs a leader on shift (带班领导: holidays, special periods, emergency mode) is refused without
one when the rota is published (:func:`generate_rota`), marked special (:func:`mark_special`) or
imported (:mod:`.rota_import`): :class:`LeaderRequired` names each such shift. A shift that
comes to need one later (a period declared or emergency mode switched on after publication) is a
gap, warned to the center's leaders with the others.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caseflow.deadlines.emergency import emergency_active
from caseflow.effects import Effects
from caseflow.errors import Conflict, NotFound, ValidationFailed
from caseflow.models import (
    Center,
    DutyAssignment,
    DutyShift,
    Notification,
    Person,
    SwapRequest,
    utcnow,
)
from caseflow.models.duty import ASSIGNMENT_ROLES
from caseflow.security.actor import Actor
from caseflow.services import transition
from caseflow.services.unit_of_work import transaction
from caseflow.workflow.engine import WorkflowCatalog

from .common import as_int, ledger_note, local, require_role, shift_bounds, tz
from .notices import already_sent, center_leaders, notify_people
from .rules import ShiftRule, rules_for_days, rules_for_shifts, shift_day
from .settings import int_setting

ROTA_ROLES = ("admin", "leader", "duty_lead")
SPECIAL_KINDS = ("holiday", "major_event", "sensitive", "weather", "emergency")
MAX_YEARS_AWAY = 10  # a rota further from today than this is a typo (and would overflow dates)
# Which person roles may fill which place on a shift.
QUALIFIES = {"duty_lead": {"duty_lead"}, "duty_officer": {"duty_officer", "duty_lead"}, "leader_on_shift": {"leader"}}


def _person(session: Session, person_id: Any, field_name: str) -> Person:
    person = session.get(Person, as_int(person_id, field_name))
    if person is None or not person.active:
        raise ValidationFailed(f"person {person_id} does not exist or is inactive", field=field_name)
    return person


def _check_role(person: Person, role: str, field_name: str) -> None:
    if role not in ASSIGNMENT_ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ASSIGNMENT_ROLES)}", field="role")
    if not person.roles & QUALIFIES[role]:
        raise ValidationFailed(f"{person.username} cannot serve as {role}", field=field_name)


def _set_place(session: Session, shift: DutyShift, person: Person, role: str) -> DutyAssignment:
    """Put ``person`` on ``shift`` as ``role``; a lead or leader on shift replaces the previous one."""
    if role in ("duty_lead", "leader_on_shift"):
        for old in session.execute(select(DutyAssignment).where(
                DutyAssignment.shift_id == shift.id, DutyAssignment.role == role)).scalars():
            session.delete(old)
        session.flush()
        setattr(shift, "lead_id" if role == "duty_lead" else "leader_on_shift_id", person.id)
    existing = session.execute(select(DutyAssignment).where(
        DutyAssignment.shift_id == shift.id, DutyAssignment.person_id == person.id)).scalar_one_or_none()
    if existing is not None:
        raise Conflict(f"{person.username} is already on this shift as {existing.role}", details={"role": existing.role})
    row = DutyAssignment(shift_id=shift.id, person_id=person.id, role=role)
    session.add(row)
    session.flush()
    return row


class LeaderRequired(ValidationFailed):
    """Shifts that need a leader on shift (带班领导) have none; nothing was saved.

    ``details["shifts"]`` lists each: its local day, its name and why it needs one.
    """

    def __init__(self, missing: list[ShiftRule], field: str) -> None:
        names = [r.shift_name() for r in missing]
        more = f" (and {len(names) - 1} more: {'; '.join(names[1:])})" if len(names) > 1 else ""
        super().__init__(
            f"{names[0]} needs a leader on shift (带班领导) and has none; nothing saved{more}", field=field,
            details={"shifts": [{"day": r.day.isoformat(), "name": r.shift_name(), "special": r.label,
                                 "kinds": r.kinds} for r in missing]})
        self.missing = missing


def emergency_horizon(session: Session, center_id: int, now: datetime | None = None) -> datetime | None:
    """While the center is in emergency mode: the end of the window its rules cover at publication
    (shifts starting before now + ``DUTY_GAP_DAYS_AHEAD`` days). An emergency has no planned end,
    so later shifts are held to it by the daily gap check, if it is still in force then."""
    if not emergency_active(session, center_id):
        return None
    return (now or utcnow()) + timedelta(days=int_setting("DUTY_GAP_DAYS_AHEAD"))


def _take(pool: list[Person], cursor: int, count: int, taken: set[int]) -> tuple[list[Person], int]:
    """Up to ``count`` people from ``pool`` in turn from ``cursor``, skipping those in ``taken``."""
    picked: list[Person] = []
    tries = 0
    while pool and len(picked) < count and tries < len(pool):
        person = pool[cursor % len(pool)]
        cursor += 1
        tries += 1
        if person.id not in taken:
            picked.append(person)
            taken.add(person.id)
    return picked, cursor


def generate_rota(
    session: Session, catalog: WorkflowCatalog, center_id: int, first_day: date, days: int, *,
    leads: list[int], officers: list[int], actor: Actor, officers_per_shift: int = 1,
    leaders: list[int] | None = None, special_days: dict[date, dict[str, Any]] | None = None,
) -> list[DutyShift]:
    """Publish ``days`` shifts from local ``first_day``: leads and officers in turn; commits.

    A shift whose minimum (:mod:`.rules`: holidays, special periods, emergency mode) is above
    ``officers_per_shift`` + 1 gets more officers, as far as ``officers`` allows. A shift that
    needs a leader on shift gets the next of ``leaders`` (in turn); ``special_days`` marks single
    days special, ``{day: {"kind": "major_event", "leader_id": 7}}``. If a shift that needs a
    leader on shift is left without one, nothing is saved: :class:`LeaderRequired` names every
    such shift (field ``leaders``). Days that already have a shift are left as they are.
    """
    role = require_role(actor, ROTA_ROLES, "rota planning")
    if session.get(Center, center_id) is None:
        raise ValidationFailed(f"center {center_id} does not exist", field="center_id")
    if days < 1 or days > 366:
        raise ValidationFailed("days must be between 1 and 366", field="days")
    if abs((first_day - utcnow().date()).days) > MAX_YEARS_AWAY * 366:
        raise ValidationFailed(f"first_day must be within {MAX_YEARS_AWAY} years of today", field="first_day")
    if not leads:
        raise ValidationFailed("at least one shift lead is needed", field="leads")
    lead_people = [_person(session, p, "leads") for p in leads]
    officer_people = [_person(session, p, "officers") for p in officers]
    leader_people = [_person(session, p, "leaders") for p in leaders or []]
    for p in lead_people:
        _check_role(p, "duty_lead", "leads")
    for p in officer_people:
        _check_role(p, "duty_officer", "officers")
    for p in leader_people:
        _check_role(p, "leader_on_shift", "leaders")
    special_days = special_days or {}
    for spec in special_days.values():
        if spec.get("kind", "holiday") not in SPECIAL_KINDS:
            raise ValidationFailed(f"kind must be one of {', '.join(SPECIAL_KINDS)}", field="kind")
    all_days = [first_day + timedelta(days=n) for n in range(days)]
    horizon = emergency_horizon(session, center_id)
    day_rules = rules_for_days(
        session, center_id, all_days, marks={d: spec.get("kind", "holiday") for d, spec in special_days.items()},
        emergency_days=[d for d in all_days if horizon is not None and shift_bounds(d)[0] < horizon])
    shifts = []
    missing: list[ShiftRule] = []
    officer_cursor = leader_cursor = 0
    with transaction(session) as effects:
        for n, day in enumerate(all_days):
            starts_at, ends_at = shift_bounds(day)
            existing = session.execute(select(DutyShift).where(
                DutyShift.center_id == center_id, DutyShift.starts_at == starts_at)).scalar_one_or_none()
            if existing is not None:
                shifts.append(existing)
                continue
            rule = day_rules[day]
            shift = DutyShift(center_id=center_id, starts_at=starts_at, ends_at=ends_at, data={"day": day.isoformat()})
            transition.start(session, catalog, shift, workflow="duty_shift", actor=actor, role=role,
                             trigger="plan", effects=effects, commit=False)
            lead = lead_people[n % len(lead_people)]
            _set_place(session, shift, lead, "duty_lead")
            taken = {lead.id}
            wanted = max(officers_per_shift, rule.minimum - 1) if officer_people else 0
            picked, officer_cursor = _take(officer_people, officer_cursor, wanted, taken)
            for officer in picked:
                _set_place(session, shift, officer, "duty_officer")
            if day in special_days:
                spec = special_days[day]
                _mark_special(session, shift, spec.get("kind", "holiday"), spec.get("leader_id"))
                if shift.leader_on_shift_id is not None:
                    taken.add(shift.leader_on_shift_id)
            if rule.needs_leader and shift.leader_on_shift_id is None:
                leader, leader_cursor = _take(leader_people, leader_cursor, 1, taken)
                if leader:
                    _set_place(session, shift, leader[0], "leader_on_shift")
                else:
                    missing.append(rule)
            shifts.append(shift)
        if missing:
            raise LeaderRequired(missing, "leaders")
    return shifts


def _mark_special(session: Session, shift: DutyShift, kind: str, leader_id: Any) -> None:
    if kind not in SPECIAL_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(SPECIAL_KINDS)}", field="kind")
    shift.data = {**{k: v for k, v in (shift.data or {}).items() if k != "requires_leader"}, "special": kind}
    if leader_id is not None:
        leader = _person(session, leader_id, "leader_id")
        _check_role(leader, "leader_on_shift", "leader_id")
        _set_place(session, shift, leader, "leader_on_shift")


def shift_rule(session: Session, shift: DutyShift, now: datetime | None = None) -> ShiftRule:
    """What ``shift`` needs now, emergency mode included for the shifts it covers at publication."""
    horizon = emergency_horizon(session, shift.center_id, now)
    emergency = horizon is not None and shift.starts_at < horizon
    return rules_for_shifts(session, shift.center_id, [shift], emergency=emergency)[shift.id]


def mark_special(session: Session, shift_id: int, kind: str, leader_id: int | None, *, actor: Actor) -> DutyShift:
    """Mark one shift special (a holiday, major event, sensitive period, disaster weather or
    emergency); commits. Refused with :class:`LeaderRequired` (field ``leader_id``) when the shift
    then needs a leader on shift and neither has one nor gets ``leader_id``."""
    role = require_role(actor, ROTA_ROLES, "rota planning")
    shift = _lock_open_shift(session, shift_id)
    try:
        _mark_special(session, shift, kind, leader_id)
        session.flush()
        rule = shift_rule(session, shift)
        if rule.needs_leader and shift.leader_on_shift_id is None:
            raise LeaderRequired([rule], "leader_id")
        ledger_note(session, shift, "mark_special", actor, role, utcnow(), {"kind": kind, "leader_id": leader_id})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return shift


def _lock_open_shift(session: Session, shift_id: int) -> DutyShift:
    shift = transition.lock_item(session, "duty_shift", shift_id)
    assert isinstance(shift, DutyShift)
    if shift.state == "closed":
        raise Conflict(f"duty_shift {shift_id} is closed", details={"state": shift.state})
    return shift


def assign(session: Session, shift_id: int, person_id: Any, role: str, *, actor: Actor) -> DutyAssignment:
    """Put one person on a shift as lead, officer or leader on shift; ledgered on the shift; commits."""
    actor_role = require_role(actor, ROTA_ROLES, "rota planning")
    try:
        shift = _lock_open_shift(session, shift_id)
        person = _person(session, person_id, "person_id")
        _check_role(person, role, "person_id")
        row = _set_place(session, shift, person, role)
        ledger_note(session, shift, "assign", actor, actor_role, utcnow(), {"person_id": person.id, "role": role})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return row


def assignments(session: Session, shift_id: int) -> list[DutyAssignment]:
    """Everyone on a shift."""
    return list(session.execute(
        select(DutyAssignment).where(DutyAssignment.shift_id == shift_id).order_by(DutyAssignment.id)
    ).scalars())


def shift_people(session: Session, shift_id: int) -> list[Person]:
    """The people on a shift (lead first)."""
    order = {"duty_lead": 0, "leader_on_shift": 1, "duty_officer": 2}
    rows = sorted(assignments(session, shift_id), key=lambda a: (order.get(a.role, 9), a.id))
    return [a.person for a in rows]


def request_swap(session: Session, shift_id: int, from_person_id: Any, to_person_id: Any, reason: str, *,
                 actor: Actor) -> SwapRequest:
    """Ask to hand one's place on a shift to someone else; commits. A leader decides."""
    from_person = _person(session, from_person_id, "from_person_id")
    to_person = _person(session, to_person_id, "to_person_id")
    if actor.person_id != from_person.id:
        require_role(actor, ROTA_ROLES, "requesting a swap for someone else")
    shift = session.get(DutyShift, shift_id)
    if shift is None:
        raise NotFound(f"duty_shift {shift_id} not found")
    if shift.state != "planned":
        raise Conflict("only a planned shift can be swapped", details={"state": shift.state})
    place = session.execute(select(DutyAssignment).where(
        DutyAssignment.shift_id == shift_id, DutyAssignment.person_id == from_person.id)).scalar_one_or_none()
    if place is None:
        raise ValidationFailed(f"{from_person.username} is not on this shift", field="from_person_id")
    _check_role(to_person, place.role, "to_person_id")
    if any(a.person_id == to_person.id for a in assignments(session, shift_id)):
        raise ValidationFailed(f"{to_person.username} is already on this shift", field="to_person_id")
    if not (reason or "").strip():
        raise ValidationFailed("reason is required", field="reason")
    swap = SwapRequest(shift_id=shift_id, from_person_id=from_person.id, to_person_id=to_person.id,
                       reason=reason.strip(), status="requested", requested_by_id=actor.person_id)
    session.add(swap)
    session.commit()
    return swap


def decide_swap(session: Session, swap_id: int, approve: bool, *, actor: Actor, note: str = "") -> SwapRequest:
    """Approve (the place changes hands, ledgered on the shift) or reject a swap; commits."""
    role = require_role(actor, ("leader", "admin"), "deciding a swap")
    try:
        swap = session.get(SwapRequest, swap_id, with_for_update=True)
        if swap is None:
            raise NotFound(f"swap request {swap_id} not found")
        if swap.status != "requested":
            raise Conflict(f"swap request {swap_id} is already {swap.status}", details={"status": swap.status})
        shift = _lock_open_shift(session, swap.shift_id)
        now = utcnow()
        if approve:
            place = session.execute(select(DutyAssignment).where(
                DutyAssignment.shift_id == shift.id, DutyAssignment.person_id == swap.from_person_id)).scalar_one_or_none()
            if place is None:
                raise Conflict("the requester is no longer on this shift")
            place.person_id = swap.to_person_id
            if place.role == "duty_lead":
                shift.lead_id = swap.to_person_id
            elif place.role == "leader_on_shift":
                shift.leader_on_shift_id = swap.to_person_id
            ledger_note(session, shift, "swap", actor, role, now, {
                "swap_id": swap.id, "from_person_id": swap.from_person_id, "to_person_id": swap.to_person_id,
                "role": place.role}, comment=note)
        swap.status = "approved" if approve else "rejected"
        swap.decided_by_id = actor.person_id
        swap.decided_at = now
        swap.decision_note = note
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return swap


@dataclass
class Gap:
    """A shift that is not staffed as it must be, and why."""

    shift_id: int
    starts_at: datetime
    reasons: list[str] = field(default_factory=list)
    staff: int = 0
    minimum: int = 0
    special: str = ""  # what makes the day special: 国庆节 (节假日)、应急 ...
    needs_leader: bool = False


def staff_minimum(session: Session, center_id: int, day: date | None = None) -> int:
    """Lead + officers the center's shift of local ``day`` (default: the shift on duty now) needs."""
    from .overview import duty_day

    day = day or duty_day()
    horizon = emergency_horizon(session, center_id)
    emergency = [day] if horizon is not None and shift_bounds(day)[0] < horizon else []
    return rules_for_days(session, center_id, [day], emergency_days=emergency)[day].minimum


def find_gaps(session: Session, center_id: int, days_ahead: int, now: datetime | None = None) -> list[Gap]:
    """Shifts starting within ``days_ahead`` days (and the one on duty) with no lead, under the
    minimum staff of their day, or without the leader on shift their day requires (holidays,
    special periods, emergency mode: :mod:`.rules`).

    A day with no shift at all is a gap too (reported with ``shift_id`` 0).
    """
    now = now or utcnow()
    emergency = emergency_active(session, center_id)
    horizon = now + timedelta(days=days_ahead)
    shifts = list(session.execute(
        select(DutyShift).where(DutyShift.center_id == center_id, DutyShift.ends_at > now,
                                DutyShift.starts_at < horizon, DutyShift.state != "closed")
        .order_by(DutyShift.starts_at)
    ).scalars())
    counts = dict(session.execute(
        select(DutyAssignment.shift_id, func.count()).where(
            DutyAssignment.shift_id.in_([s.id for s in shifts] or [0]),
            DutyAssignment.role.in_(("duty_lead", "duty_officer")))
        .group_by(DutyAssignment.shift_id)
    ).all())
    rules = rules_for_shifts(session, center_id, shifts, emergency=emergency)
    gaps = []
    for s in shifts:
        rule = rules[s.id]
        gap = Gap(shift_id=s.id, starts_at=s.starts_at, staff=int(counts.get(s.id, 0)), minimum=rule.minimum,
                  special=rule.label, needs_leader=rule.needs_leader)
        if s.lead_id is None:
            gap.reasons.append("no_lead")
        if gap.staff < rule.minimum:
            gap.reasons.append("under_minimum")
        if rule.needs_leader and s.leader_on_shift_id is None:
            gap.reasons.append("no_leader_on_shift")
        if gap.reasons:
            gaps.append(gap)
    covered = {shift_day(s) for s in shifts}
    today = now.astimezone(tz()).date()
    empty = [d for d in (today + timedelta(days=n) for n in range(-1, days_ahead + 1))
             if d not in covered and shift_bounds(d)[1] > now and shift_bounds(d)[0] < horizon]
    for day, rule in rules_for_days(session, center_id, empty, emergency_days=empty if emergency else ()).items():
        gaps.append(Gap(shift_id=0, starts_at=shift_bounds(day)[0], reasons=["no_shift"], minimum=rule.minimum,
                        special=rule.label, needs_leader=rule.needs_leader))
    return sorted(gaps, key=lambda g: g.starts_at)


REASON_TEXT = {
    "no_lead": "无值班长", "under_minimum": "值班人数不足", "no_leader_on_shift": "无带班领导", "no_shift": "未排班",
}


def warn_gaps(session: Session, center_id: int, days_ahead: int | None = None, now: datetime | None = None, *,
              effects: Effects | None = None, commit: bool = True) -> list[Notification]:
    """Warn the center's leaders of each gap through the outbox; the same gap is warned once.

    The sweeper calls this on every sweep (so each gap is warned ``DUTY_GAP_DAYS_AHEAD`` days
    ahead), and declaring emergency mode or a special period calls it at once, since what shifts
    need rises. A special day's warning names it and whether a leader on shift is required.
    Returns the rows queued.
    """
    days_ahead = int_setting("DUTY_GAP_DAYS_AHEAD") if days_ahead is None else days_ahead
    own_effects = effects is None
    effects = effects if effects is not None else Effects()
    rows: list[Notification] = []
    try:
        leaders = center_leaders(session, center_id)
        for gap in find_gaps(session, center_id, days_ahead, now):
            key = f"{gap.starts_at.isoformat()}|{','.join(gap.reasons)}|{gap.minimum}"
            item_id = gap.shift_id or center_id
            item_type = "duty_shift" if gap.shift_id else "center"
            if already_sent(session, item_type, item_id, "rota_gap", key):
                continue
            reasons = "、".join(REASON_TEXT[r] for r in gap.reasons)
            special = f"({gap.special})" if gap.special else ""
            rule = "须有带班领导, " if gap.needs_leader else ""
            rows += notify_people(
                session, leaders, subject=f"排班缺口: {local(gap.starts_at)} 班次{special}{reasons}",
                body=(f"{local(gap.starts_at)} 起的班次{special}{reasons}(在岗 {gap.staff} 人, 最少 {gap.minimum} 人; "
                      f"{rule}请及时调整排班)。"),
                item_type=item_type, item_id=item_id,
                payload={"kind": "rota_gap", "key": key, "reasons": gap.reasons, "shift_id": gap.shift_id,
                         "special": gap.special, "needs_leader": gap.needs_leader},
                effects=effects,
            )
        if commit:
            session.commit()
    except BaseException:
        if commit:
            session.rollback()
            effects.discard()
        raise
    if commit and own_effects:
        effects.dispatch()
    return rows
