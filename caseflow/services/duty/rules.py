"""What a shift needs (值守力量): the staffing minimum and whether a leader must be on shift (带班领导).

A shift is judged by the local day it starts on (08:30). It is special when that day is

* a **holiday** (节假日): a day off in the center's working calendar that is a statutory holiday
  (``chinese-calendar``) or a local day off (a calendar override on a day that would be a
  workday). Plain weekends are not holidays; a center working through a holiday (a workday
  override) is not on a holiday rota;
* in a **special period** (特殊时期) declared for the center or for the district center above it
  (major events, sensitive periods, forecast typhoon/snow/ice: :mod:`.special_periods`);
* marked special on the shift itself (``shift.data["special"]``, from rota planning or import);
* in **emergency mode** (平急转换), for the shifts the caller says it covers.

The minimum is the highest that applies: ``DUTY_MIN_STAFF``, ``DUTY_MIN_STAFF_HOLIDAY``,
``DUTY_MIN_STAFF_SPECIAL`` (or the period's own), ``DUTY_MIN_STAFF_EMERGENCY``; a center's
``duty_center_rule`` row overrides each default. A leader on shift is needed in emergency mode
always, on holidays when ``DUTY_HOLIDAY_LEADER`` and in special periods when ``DUTY_SPECIAL_LEADER``
(again per center).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import chinese_calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.models import CalendarOverride, Center, DutyCenterRule, DutyShift, DutySpecialPeriod
from caseflow.worktime import statutory_is_workday

from .settings import bool_setting, int_setting

KIND_NAMES_ZH = {"holiday": "节假日", "major_event": "重大活动", "sensitive": "敏感时期", "weather": "灾害天气",
                 "emergency": "应急"}
HOLIDAY_NAMES_ZH = {h.value: h.chinese for h in chinese_calendar.Holiday}
# Column of duty_center_rule -> the setting that is its default.
RULE_DEFAULTS = {
    "min_staff": "DUTY_MIN_STAFF", "min_staff_holiday": "DUTY_MIN_STAFF_HOLIDAY",
    "min_staff_special": "DUTY_MIN_STAFF_SPECIAL", "min_staff_emergency": "DUTY_MIN_STAFF_EMERGENCY",
    "holiday_needs_leader": "DUTY_HOLIDAY_LEADER", "special_needs_leader": "DUTY_SPECIAL_LEADER",
}


@dataclass(frozen=True)
class CenterRules:
    """A center's staffing rules in force, and which of them are its own (not the defaults)."""

    center_id: int
    min_staff: int
    min_staff_holiday: int
    min_staff_special: int
    min_staff_emergency: int
    holiday_needs_leader: bool
    special_needs_leader: bool
    own: dict[str, Any] = field(default_factory=dict, compare=False)


def center_rules(session: Session, center_id: int) -> CenterRules:
    """The center's own values where set, else the configured defaults."""
    row = session.get(DutyCenterRule, center_id)
    values: dict[str, Any] = {}
    own: dict[str, Any] = {}
    for column, setting_name in RULE_DEFAULTS.items():
        mine = getattr(row, column) if row is not None else None
        own[column] = mine
        if mine is not None:
            values[column] = mine
        elif column.endswith("_leader"):
            values[column] = bool_setting(setting_name)
        else:
            values[column] = int_setting(setting_name)
    return CenterRules(center_id=center_id, own=own, **values)


@dataclass(frozen=True)
class Special:
    """One reason a day is special: its kind and its name (国庆节, 进博会, ...)."""

    kind: str
    name: str

    def text(self) -> str:
        """``国庆节 (节假日)``."""
        kind = KIND_NAMES_ZH.get(self.kind, self.kind)
        return f"{self.name} ({kind})" if self.name and self.name != kind else kind


@dataclass(frozen=True)
class ShiftRule:
    """What the shift starting at 08:30 on ``day`` needs."""

    day: date
    minimum: int
    needs_leader: bool
    specials: tuple[Special, ...] = ()

    @property
    def kinds(self) -> list[str]:
        """The kinds that apply (``holiday``, ``major_event``, ``emergency``, ...), without repeats."""
        return list(dict.fromkeys(s.kind for s in self.specials))

    @property
    def label(self) -> str:
        """``国庆节 (节假日)、进博会 (重大活动)``; empty on an ordinary day."""
        return "、".join(dict.fromkeys(s.text() for s in self.specials))

    def shift_name(self) -> str:
        """How messages name the shift: ``2026-10-01 班次 [国庆节 (节假日)]``."""
        return f"{self.day.isoformat()} 班次" + (f" [{self.label}]" if self.label else "")


def center_chain(session: Session, center_id: int) -> list[int]:
    """The center and the centers above it (a street's district), nearest first."""
    chain: list[int] = []
    current: int | None = center_id
    while current is not None and current not in chain:
        chain.append(current)
        current = session.execute(select(Center.parent_id).where(Center.id == current)).scalar_one_or_none()
    return chain


def _statutory_holiday(day: date) -> str | None:
    """The statutory holiday's Chinese name, or None (also for a year chinese-calendar lacks)."""
    try:
        off, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None  # worktime logs the uncovered year; `caseflow calendar list` warns about it
    if not off or name is None:
        return None
    return HOLIDAY_NAMES_ZH.get(name, name)


def holidays(session: Session, center_id: int, first: date, last: date) -> dict[date, str]:
    """Holidays of the center from ``first`` to ``last`` (inclusive): day -> name."""
    rows = session.execute(select(CalendarOverride).where(
        (CalendarOverride.center_id.is_(None)) | (CalendarOverride.center_id == center_id),
        CalendarOverride.day >= first, CalendarOverride.day <= last)).scalars()
    overrides: dict[date, CalendarOverride] = {}
    for row in sorted(rows, key=lambda r: r.center_id is not None):  # the center's own wins
        overrides[row.day] = row
    found: dict[date, str] = {}
    for ordinal in range(first.toordinal(), last.toordinal() + 1):
        day = date.fromordinal(ordinal)
        statutory = _statutory_holiday(day)
        override = overrides.get(day)
        if override is not None:
            if not override.is_workday and (statutory or statutory_is_workday(day)):
                found[day] = statutory or override.note or "调整休息日"
        elif statutory:
            found[day] = statutory
    return found


def periods_between(session: Session, center_id: int, first: date, last: date) -> list[DutySpecialPeriod]:
    """Special periods in force for the center (its own and its district's) touching those days."""
    return list(session.execute(select(DutySpecialPeriod).where(
        DutySpecialPeriod.center_id.in_(center_chain(session, center_id)),
        DutySpecialPeriod.cancelled_at.is_(None),
        DutySpecialPeriod.first_day <= last, DutySpecialPeriod.last_day >= first,
    ).order_by(DutySpecialPeriod.first_day, DutySpecialPeriod.id)).scalars())


def rules_for_days(session: Session, center_id: int, days: Iterable[date], *,
                   marks: dict[date, str] | None = None, emergency_days: Iterable[date] = ()) -> dict[date, ShiftRule]:
    """The rule of each local day's shift; ``marks``: a shift's own special kind by day;
    ``emergency_days``: the days emergency mode covers (the caller decides)."""
    wanted = sorted(set(days))
    if not wanted:
        return {}
    rules = center_rules(session, center_id)
    marks = marks or {}
    emergency = set(emergency_days)
    off = holidays(session, center_id, wanted[0], wanted[-1])
    periods = periods_between(session, center_id, wanted[0], wanted[-1])
    result: dict[date, ShiftRule] = {}
    for day in wanted:
        minimum, leader = rules.min_staff, False
        specials: list[Special] = []
        if day in off:
            specials.append(Special("holiday", off[day]))
            minimum, leader = max(minimum, rules.min_staff_holiday), leader or rules.holiday_needs_leader
        for p in periods:
            if p.first_day <= day <= p.last_day:
                specials.append(Special(p.kind, p.name))
                need = p.min_staff if p.min_staff is not None else rules.min_staff_special
                minimum, leader = max(minimum, need), leader or rules.special_needs_leader
        mark = marks.get(day)
        if mark == "emergency":
            emergency.add(day)
        elif mark:
            specials.append(Special(mark, ""))
            if mark == "holiday":
                minimum, leader = max(minimum, rules.min_staff_holiday), leader or rules.holiday_needs_leader
            else:
                minimum, leader = max(minimum, rules.min_staff_special), leader or rules.special_needs_leader
        if day in emergency:
            specials.append(Special("emergency", ""))
            minimum, leader = max(minimum, rules.min_staff_emergency), True
        result[day] = ShiftRule(day=day, minimum=minimum, needs_leader=leader, specials=tuple(specials))
    return result


def shift_day(shift: DutyShift) -> date:
    """The local day a shift starts on."""
    from .common import tz

    day = (shift.data or {}).get("day")
    return date.fromisoformat(day) if day else shift.starts_at.astimezone(tz()).date()


def rules_for_shifts(session: Session, center_id: int, shifts: Iterable[DutyShift], *,
                     emergency: bool = False) -> dict[int, ShiftRule]:
    """The rule of each shift of one center by shift id (``emergency``: emergency mode covers them all)."""
    shifts = list(shifts)
    by_day = {shift_day(s): s for s in shifts}
    marks = {d: (s.data or {}).get("special") for d, s in by_day.items() if (s.data or {}).get("special")}
    found = rules_for_days(session, center_id, by_day, marks=marks, emergency_days=by_day if emergency else ())
    return {s.id: found[d] for d, s in by_day.items()}
