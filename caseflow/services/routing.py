"""Where an instruction goes: category -> responsible unit; the unit in its working hours,
its emergency action group (应急行动组) outside them; whom to tell (seed 001 篇三 三, 四(一)).

Every function that depends on the time takes ``now`` so tests and replays can freeze it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.deadlines.clock import calendar_for
from caseflow.errors import ValidationFailed
from caseflow.models import ActionGroup, Category, Department, Instruction, LeaderPosition, Person
from caseflow.worktime import WorkCalendar


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
    """The unit responsible for ``category``; 422 on ``category`` when there is none."""
    if category is None:
        raise ValidationFailed("the instruction has no category", field="category")
    if category.responsible_department_id is None:
        raise ValidationFailed(f"category {category.code} has no responsible unit", field="category")
    dept = session.get(Department, category.responsible_department_id)
    assert dept is not None  # foreign key
    return dept


def unit_calendar(session: Session, department: Department) -> WorkCalendar:
    """The unit's working calendar: its own hours (or WORKDAY_HOURS) on the statutory calendar."""
    return calendar_for(session, department.center_id, department.working_hours or None)


def in_working_hours(session: Session, department: Department, now: datetime) -> bool:
    """Whether ``now`` is inside the unit's working hours (正常上班时间)."""
    return unit_calendar(session, department).is_working_time(now)


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
