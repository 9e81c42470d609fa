"""Where an instruction goes: category -> responsible unit; the unit in its working hours,
its emergency action group (应急行动组) outside them; whom to tell (seed 001 篇三 三, 四(一)).

Weekends and holidays are a per-center setting (``INSTRUCTION_DAYS_OFF_ROUTING``, overridden per
center code by ``INSTRUCTION_DAYS_OFF_ROUTING_CENTERS``):

* ``unit`` (default): seed 001 篇三 三(一) gives the units the events received in their working hours
  "包括双休日和节假日", and the action groups only those outside working hours (三(二)). So the
  unit's hours apply every day and weekends and holidays follow the time of day only.
* ``action_group``: working hours only on working days of the statutory calendar (with the
  center's overrides and make-up workdays); nights, weekends and holidays go to the action group.

Every function that depends on the time takes ``now`` so tests and replays can freeze it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.deadlines.clock import calendar_for
from caseflow.errors import ValidationFailed
from caseflow.models import ActionGroup, Category, Center, Department, Instruction, LeaderPosition, Person
from caseflow.worktime import WorkCalendar

from .active_records import active_responsible

SETTING = "INSTRUCTION_DAYS_OFF_ROUTING"
CENTERS_SETTING = "INSTRUCTION_DAYS_OFF_ROUTING_CENTERS"
# Who takes instructions received in working hours on weekends and statutory holidays.
DAYS_OFF_UNIT = "unit"
DAYS_OFF_ACTION_GROUP = "action_group"
DAYS_OFF_CHOICES = (DAYS_OFF_UNIT, DAYS_OFF_ACTION_GROUP)
DEFAULT_DAYS_OFF = DAYS_OFF_UNIT


@dataclass(frozen=True)
class Route:
    """The routing decision for one dispatch."""

    department: Department
    to_action_group: bool
    action_group: ActionGroup | None
    # Unit head in working hours, action-group leader outside them.
    contacts: tuple[Person, ...] = field(default=())
    # The deputy leader in charge, told when a leader must go on site.
    deputy: Person | None = None
    reason: str = ""

    def as_data(self) -> dict[str, object]:
        """The decision as plain data for the transition and the ledger."""
        return {
            "department_id": self.department.id,
            "to_action_group": self.to_action_group,
            "action_group_id": self.action_group.id if self.action_group else None,
            "contact_person_ids": [p.id for p in self.contacts],
            "deputy_person_id": self.deputy.id if self.deputy else None,
            "route_reason": self.reason,
        }


def responsible_department(session: Session, category: Category | None) -> Department:
    """The unit responsible for ``category``; 422 on ``category`` when there is none or it is
    deactivated (the liaison then names an active unit, or an administrator fixes the category)."""
    if category is None:
        raise ValidationFailed("the instruction has no category", field="category")
    if category.responsible_department_id is None:
        raise ValidationFailed(f"category {category.code} has no responsible unit", field="category")
    dept = active_responsible(category, "category")
    assert dept is not None  # foreign key
    return dept


def unit_calendar(session: Session, department: Department) -> WorkCalendar:
    """The unit's working calendar: its own hours (or WORKDAY_HOURS) on the statutory calendar."""
    return calendar_for(session, department.center_id, department.working_hours or None)


def _choice(value: object, name: str) -> str:
    text = str(value).strip()
    if text not in DAYS_OFF_CHOICES:
        raise ValueError(f"{name} must be one of {', '.join(DAYS_OFF_CHOICES)}, not {value!r}")
    return text


def parse_days_off_settings(config: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The default days-off routing and the per-center-code overrides from ``config``.

    ``INSTRUCTION_DAYS_OFF_ROUTING_CENTERS`` reads ``S01:action_group,S02:unit``. Raises
    ``ValueError`` naming the setting on a bad value (``create_app`` checks it at start-up).
    """
    raw_default = config.get(SETTING)
    default = _choice(raw_default, SETTING) if raw_default not in (None, "") else DEFAULT_DAYS_OFF
    centers: dict[str, str] = {}
    for part in str(config.get(CENTERS_SETTING) or "").split(","):
        if not part.strip():
            continue
        code, sep, value = part.partition(":")
        if not sep or not code.strip():
            raise ValueError(f"{CENTERS_SETTING}: {part.strip()!r} is not CENTER_CODE:unit|action_group")
        centers[code.strip()] = _choice(value, f"{CENTERS_SETTING} ({code.strip()})")
    return default, centers


def check_settings(config: Mapping[str, Any]) -> None:
    """Refuse a bad days-off routing setting (called at start-up, so a dispatch never meets it)."""
    parse_days_off_settings(config)


def days_off_routing(session: Session, center_id: int | None) -> str:
    """``unit`` or ``action_group``: who takes a working-hours instruction on a weekend or holiday
    for units of ``center_id`` (the center's own setting, else the default)."""
    from flask import current_app, has_app_context

    config: Mapping[str, Any] = current_app.config if has_app_context() else {}
    default, centers = parse_days_off_settings(config)
    if center_id is not None and centers:
        center = session.get(Center, center_id)
        if center is not None and center.code in centers:
            return centers[center.code]
    return default


def in_working_hours(session: Session, department: Department, now: datetime) -> bool:
    """Whether ``now`` is inside the unit's working hours (正常上班时间).

    With days-off routing ``unit`` the unit's hours count on every day, weekends and holidays
    included; with ``action_group`` only on working days of the calendar.
    """
    cal = unit_calendar(session, department)
    if days_off_routing(session, department.center_id) == DAYS_OFF_ACTION_GROUP:
        return cal.is_working_time(now)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(cal.zone)
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    return any(start <= seconds < end for start, end in cal.periods)


def action_group_of(session: Session, department: Department) -> ActionGroup | None:
    """The unit's emergency action group, if it has one."""
    return session.execute(
        select(ActionGroup).where(ActionGroup.department_id == department.id)
    ).scalar_one_or_none()


def leader(session: Session, kind: str, field_name: str, center_id: int | None) -> Person | None:
    """The holder of a leader position; the unit's center first, then any center."""
    q = select(LeaderPosition).where(LeaderPosition.kind == kind, LeaderPosition.field == field_name)
    rows = list(session.execute(q).scalars())
    rows.sort(key=lambda r: r.center_id != center_id)  # the unit's own center first
    return rows[0].person if rows else None


def deputy_for(session: Session, category: Category | None, center_id: int | None) -> Person | None:
    """The deputy leader in charge (分管领导) of the category's field."""
    return leader(session, "deputy_in_charge", category.field if category else "", center_id)


def principal_for(session: Session, center_id: int | None) -> Person | None:
    """The principal leader (主要领导)."""
    return leader(session, "principal", "", center_id)


def route_for(
    session: Session, instruction: Instruction, now: datetime, department: Department | None = None
) -> Route:
    """Decide unit or action group at ``now`` and whom to tell.

    ``department`` overrides the category's unit (e.g. a transfer to another unit).
    A unit without an action group keeps the instruction off-hours (its head is told).
    """
    dept = department or responsible_department(session, instruction.category)
    group = action_group_of(session, dept)
    working = in_working_hours(session, dept, now)
    to_group = not working and group is not None
    if to_group:
        contacts = (group.leader,) if group and group.leader else ()
        reason = "off_hours_action_group"
    else:
        contacts = (dept.head,) if dept.head else ()
        reason = "working_hours" if working else "off_hours_no_action_group"
    deputy = deputy_for(session, instruction.category, dept.center_id) if instruction.leader_on_site else None
    return Route(department=dept, to_action_group=to_group, action_group=group if to_group else None,
                 contacts=contacts, deputy=deputy, reason=reason)
