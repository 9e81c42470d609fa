"""Departments and units (部门/单位) with their head and emergency action group (应急行动组).

Administrators list, create, edit and (de)activate them; every change is ledgered (item type
``department``, see :mod:`admin_records`). A department cannot be deactivated while an active
category still names it responsible (new work would be routed to it) or while it still holds
open cases or instructions; its people are listed as a warning. Deactivated, it keeps every
case, instruction and ledger entry that names it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caseflow.errors import ValidationFailed
from caseflow.models import ActionGroup, Case, Category, Center, Department, Instruction, Person
from caseflow.security.actor import Actor
from caseflow.worktime import parse_hours

from . import admin_records as rec
from .paging import Page

KIND = "department"
DEPARTMENT_KINDS = ("department", "unit")
EDITABLE = ("name", "kind", "center_id", "head_id", "working_hours", "action_group_name", "action_group_leader_id")


def list_departments(session: Session, *, active: bool | None = None, page: int = 1, per_page: int = 100) -> Page:
    """Departments by code; ``active`` True/False for only those, None for all."""
    return rec.list_by_code(session, Department, active=active, page=page, per_page=per_page)


def choices(session: Session, *, include_id: int | None = None) -> list[Department]:
    """Active departments by code for a form, plus ``include_id`` (the one chosen now, even if inactive)."""
    cond = Department.active.is_(True)
    if include_id is not None:
        cond = cond | (Department.id == include_id)
    return list(session.execute(select(Department).where(cond).order_by(Department.code)).scalars())


def _person(session: Session, person_id: Any, name: str) -> int | None:
    if person_id in (None, ""):
        return None
    person = session.get(Person, person_id) if isinstance(person_id, int) else None
    if person is None or not person.active:
        raise ValidationFailed(f"no active person with id {person_id}", field=name)
    return person.id


def _values(session: Session, values: Mapping[str, Any]) -> dict[str, Any]:
    out = rec.known_values(values, EDITABLE)
    if "kind" in values:
        out["kind"] = rec.check_choice(values["kind"] or "department", DEPARTMENT_KINDS, "kind")
    if "center_id" in values:
        center_id = values["center_id"]
        if center_id is not None and (not isinstance(center_id, int) or session.get(Center, center_id) is None):
            raise ValidationFailed(f"center {center_id} does not exist", field="center_id")
        out["center_id"] = center_id
    if "head_id" in values:
        out["head_id"] = _person(session, values["head_id"], "head_id")
    if "working_hours" in values:
        hours = (values["working_hours"] or "").strip()
        if hours:
            try:
                parse_hours(hours)
            except ValueError as exc:
                raise ValidationFailed(f"working_hours: {exc}; write e.g. 08:30-12:00,13:30-17:30",
                                       field="working_hours") from None
        out["working_hours"] = hours
    if "action_group_name" in values:
        group = (values["action_group_name"] or "").strip()
        if len(group) > rec.NAME_MAX:
            raise ValidationFailed(f"action_group_name must be at most {rec.NAME_MAX} characters",
                                   field="action_group_name")
        out["action_group_name"] = group
    if "action_group_leader_id" in values:
        out["action_group_leader_id"] = _person(session, values["action_group_leader_id"], "action_group_leader_id")
    return out


def _apply(session: Session, dept: Department, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set the department's own fields and its action group's; the changes by field name."""
    group_values = {k: values.pop(k) for k in ("action_group_name", "action_group_leader_id") if k in values}
    changes = rec.apply(dept, values)
    if not group_values:
        return changes
    group = session.execute(select(ActionGroup).where(ActionGroup.department_id == dept.id)
                            .with_for_update()).scalar_one_or_none()
    name = group_values.get("action_group_name", group.name if group else "")
    leader = group_values.get("action_group_leader_id", group.leader_id if group else None)
    if group is None and not name:
        if leader is not None:
            raise ValidationFailed("name the action group to give it a leader", field="action_group_name")
        return changes
    if group is not None and not name:
        # Instructions routed to the group name it: it is renamed or re-led, never removed.
        raise ValidationFailed("an action group cannot be removed; rename it instead", field="action_group_name")
    if group is None:
        group = ActionGroup(department_id=dept.id, name=name, leader_id=leader)
        session.add(group)
        changes["action_group_name"] = [None, name]
        if leader is not None:
            changes["action_group_leader_id"] = [None, leader]
        return changes
    group_changes = rec.apply(group, {"name": name, "leader_id": leader})
    for field, pair in group_changes.items():
        changes["action_group_" + ("name" if field == "name" else "leader_id")] = pair
    return changes


def create_department(session: Session, actor: Actor, *, code: str, name: str, **values: Any) -> rec.Saved:
    """A new active department (admin) with the fields of :data:`EDITABLE`; ``ValidationFailed``
    naming the field. Ledgered ``create_department``; commits."""
    with rec.creating(session, actor, KIND, Department, code) as (role, code):
        checked = _values(session, {"name": name, **values})
        dept = Department(code=code, name=checked.pop("name"), kind=checked.pop("kind", "department"), active=True,
                          working_hours="")
        session.add(dept)
        session.flush()
        changes = _apply(session, dept, checked)
        payload = {"code": code, "name": dept.name, "kind": dept.kind, **{k: v[1] for k, v in changes.items()}}
        rec.record_change(session, actor, role, KIND, dept, "create_department", payload)
    return rec.Saved(dept)


def update_department(session: Session, actor: Actor, department_id: int, values: Mapping[str, Any]) -> rec.Saved:
    """Change the fields of :data:`EDITABLE` that ``values`` gives (admin; the code stays).
    Ledgered ``update_department`` with each change; commits."""
    with rec.changing(session, actor, KIND, Department, department_id, "update_department") as (role, dept):
        changes = _apply(session, dept, _values(session, values))
        if changes:
            rec.record_change(session, actor, role, KIND, dept, "update_department",
                              {"code": dept.code, "changes": changes})
    return rec.Saved(dept, changes)


def open_work(session: Session, department_id: int) -> dict[str, int]:
    """Cases and instructions the department holds that are not closed (final state or closed_at)."""
    from caseflow.workflow.engine import get_catalog

    out = {}
    for item_type, model in (("case", Case), ("instruction", Instruction)):
        finals = {s.name for d in get_catalog().all() if d.item == item_type for s in d.states.values() if s.final}
        query = select(func.count()).select_from(model).where(
            model.department_id == department_id, model.closed_at.is_(None))
        if finals:
            query = query.where(model.state.not_in(finals))
        out[item_type] = session.execute(query).scalar_one()
    return out


def set_department_active(session: Session, actor: Actor, department_id: int, active: bool) -> rec.Saved:
    """Deactivate (or reactivate) a department (admin). Refused (``ValidationFailed`` on ``active``)
    while an active category names it responsible or it holds open cases or instructions; its
    active people come back as a warning. Ledgered; commits."""
    with rec.changing(session, actor, KIND, Department, department_id, "set_department_active") as (role, dept):
        warnings = []
        if not active:
            _check_unused(session, dept)
            people = session.execute(select(func.count()).select_from(Person).where(
                Person.department_id == dept.id, Person.active.is_(True))).scalar_one()
            if people:
                warnings.append((f"仍有 {people} 名在用人员属于该部门，请调整其部门或停用。",
                                 f"{people} active people still belong to it: move or deactivate them."))
        trigger = rec.active_change(dept, active, KIND)
        rec.record_change(session, actor, role, KIND, dept, trigger, {"code": dept.code})
    return rec.Saved(dept, {"active": [not active, active]}, warnings)


def _check_unused(session: Session, dept: Department) -> None:
    cats = list(session.execute(select(Category.code).where(
        Category.responsible_department_id == dept.id, Category.active.is_(True)).order_by(Category.code)).scalars())
    if cats:
        raise ValidationFailed(
            f"department {dept.code} is still responsible for categories {', '.join(cats)}; "
            "give them another department first", field="active", details={"categories": cats})
    work = open_work(session, dept.id)
    if any(work.values()):
        raise ValidationFailed(
            f"department {dept.code} still holds {work['case']} open case(s) and {work['instruction']} open "
            "instruction(s); re-dispatch or close them first", field="active", details={"open": work})
