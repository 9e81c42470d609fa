"""Who an escalation step tells: targets named in the YAML, resolved to people at run time.

Positions (resolved from the organisation as it is when the step runs, so a new unit head
or tonight's shift lead is the one told):

``unit_head``                the head of the item's department (``Department.head``);
``responsible_person``       ``item.data["responsible_person_id"]`` when set, else the unit head;
``action_group_leader``      the leader of the department's emergency action group;
``deputy_leader_in_charge``  the center's ``deputy_in_charge`` whose field is the item's
                             category field; if none, any deputy of the center;
``principal_leader``         the center's principal leader;
``shift_lead_on_duty``       the lead of the center's shift now on duty (or handing over:
                             nobody leaves before the handover is done); none without a shift;
``leader_on_shift``          that shift's leader on shift (带班领导).

Role names (``liaison``, ``dispatcher``, ``duty_lead``, ``leader``, ``admin``) mean every
active person holding that role in the item's center (everyone holding it if the item
has no center). Inactive people are never told.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.models import (
    ActionGroup,
    Category,
    Department,
    DutyShift,
    Grid,
    LeaderPosition,
    Person,
    PersonRole,
)

ROLE_TARGETS = ("liaison", "dispatcher", "duty_lead", "leader", "admin")
ON_DUTY_STATES = ("on_duty", "handing_over")

#: Display names of targets, for messages and the console.
TARGET_LABELS: dict[str, dict[str, str]] = {
    "unit_head": {"zh": "单位负责人", "en": "unit head"},
    "responsible_person": {"zh": "责任人", "en": "responsible person"},
    "action_group_leader": {"zh": "应急行动组组长", "en": "action-group leader"},
    "deputy_leader_in_charge": {"zh": "分管领导", "en": "deputy leader in charge"},
    "principal_leader": {"zh": "主要领导", "en": "principal leader"},
    "shift_lead_on_duty": {"zh": "值班长", "en": "shift lead on duty"},
    "leader_on_shift": {"zh": "带班领导", "en": "leader on shift"},
    "liaison": {"zh": "应急联络员", "en": "liaison"},
    "dispatcher": {"zh": "受理派遣员", "en": "dispatcher"},
    "duty_lead": {"zh": "值班长", "en": "duty lead"},
    "leader": {"zh": "领导", "en": "leader"},
    "admin": {"zh": "系统管理员", "en": "administrator"},
}


def target_label(target: str, lang: str = "zh") -> str:
    """A target's display name in ``lang`` (the code name if unknown)."""
    return TARGET_LABELS.get(target, {}).get(lang, target)


def item_center_id(session: Session, item: Any) -> int | None:
    """The center an item belongs to: its own, else its department's, else its grid's."""
    center_id = getattr(item, "center_id", None)
    if center_id:
        return int(center_id)
    dept_id = getattr(item, "department_id", None)
    if dept_id:
        center_id = session.execute(select(Department.center_id).where(Department.id == dept_id)).scalar()
        if center_id:
            return int(center_id)
    grid_id = getattr(item, "grid_id", None)
    if grid_id:
        center_id = session.execute(select(Grid.center_id).where(Grid.id == grid_id)).scalar()
        if center_id:
            return int(center_id)
    return None


def _people(session: Session, ids: list[int | None]) -> list[Person]:
    """Active people with these ids, in the given order, without duplicates."""
    wanted = [i for i in dict.fromkeys(ids) if i is not None]
    if not wanted:
        return []
    rows = {p.id: p for p in session.execute(select(Person).where(Person.id.in_(wanted))).scalars()}
    return [rows[i] for i in wanted if i in rows and rows[i].active]


def _unit_head_id(session: Session, item: Any) -> int | None:
    dept_id = getattr(item, "department_id", None)
    if not dept_id:
        return None
    return session.execute(select(Department.head_id).where(Department.id == dept_id)).scalar()


def _category_field(session: Session, item: Any) -> str:
    cat_id = getattr(item, "category_id", None)
    if not cat_id:
        return ""
    return session.execute(select(Category.field).where(Category.id == cat_id)).scalar() or ""


def _deputy_ids(session: Session, item: Any, center_id: int | None) -> list[int | None]:
    base = select(LeaderPosition.person_id).where(LeaderPosition.kind == "deputy_in_charge")
    if center_id is not None:
        base = base.where(LeaderPosition.center_id == center_id)
    field = _category_field(session, item)
    if field:
        exact = list(session.execute(base.where(LeaderPosition.field == field).order_by(LeaderPosition.id)).scalars())
        if exact:
            return exact  # type: ignore[return-value]
    # No deputy for the field (or no field): any deputy of the center, so someone is told.
    first = session.execute(base.order_by(LeaderPosition.id).limit(1)).scalar()
    return [first]


def _shift_people(session: Session, center_id: int | None, column: Any) -> list[int | None]:
    query = select(column).where(DutyShift.state.in_(ON_DUTY_STATES)).order_by(DutyShift.starts_at.desc())
    if center_id is not None:
        # The newest shift still on duty: during a handover the outgoing lead stays responsible.
        return [session.execute(query.where(DutyShift.center_id == center_id).limit(1)).scalar()]
    return list(session.execute(query).scalars())  # type: ignore[arg-type]


def resolve_targets(session: Session, item: Any, target: str) -> list[Person]:
    """The active people ``target`` means for ``item`` right now (possibly none).

    Raises ``ValueError`` for a target name nobody defined (the workflow validation
    rejects those at load time, so this means a chain copied before a rename).
    """
    center_id = item_center_id(session, item)
    if target == "unit_head":
        return _people(session, [_unit_head_id(session, item)])
    if target == "responsible_person":
        pid = (getattr(item, "data", None) or {}).get("responsible_person_id")
        return _people(session, [int(pid)] if pid else [_unit_head_id(session, item)])
    if target == "action_group_leader":
        dept_id = getattr(item, "department_id", None)
        if not dept_id:
            return []
        leader = session.execute(
            select(ActionGroup.leader_id).where(ActionGroup.department_id == dept_id)
        ).scalar()
        return _people(session, [leader])
    if target == "deputy_leader_in_charge":
        return _people(session, _deputy_ids(session, item, center_id))
    if target == "principal_leader":
        query = select(LeaderPosition.person_id).where(LeaderPosition.kind == "principal")
        if center_id is not None:
            query = query.where(LeaderPosition.center_id == center_id)
        return _people(session, list(session.execute(query.order_by(LeaderPosition.id)).scalars()))
    if target == "shift_lead_on_duty":
        return _people(session, _shift_people(session, center_id, DutyShift.lead_id))
    if target == "leader_on_shift":
        return _people(session, _shift_people(session, center_id, DutyShift.leader_on_shift_id))
    if target in ROLE_TARGETS:
        query = (
            select(Person.id).join(PersonRole, PersonRole.person_id == Person.id)
            .where(PersonRole.role == target, Person.active.is_(True)).order_by(Person.id)
        )
        if center_id is not None:
            query = query.where(Person.center_id == center_id)
        return _people(session, list(session.execute(query).scalars()))  # type: ignore[arg-type]
    raise ValueError(f"unknown escalation target {target!r}")
