"""People, administered one at a time: list, create, edit (roles, department, center, contact),
reset a password, deactivate or reactivate.

Passwords go through :mod:`caseflow.services.people` (argon2); a generated one is returned once
and never stored or ledgered in clear. Every change is ledgered (item type ``person``, see
:mod:`admin_records`). A deactivated person can no longer sign in or use a token; everything they
did stays theirs in the ledger. Nobody deactivates themselves, and the last active administrator
keeps the ``admin`` role. Deactivating someone still named as a head, group leader, leader,
grid leader or on a coming shift warns, so the administrator can name someone else.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from caseflow.errors import ValidationFailed
from caseflow.models import (
    ROLES,
    ActionGroup,
    Center,
    Department,
    DutyAssignment,
    DutyShift,
    Grid,
    LeaderPosition,
    Person,
    PersonRole,
    utcnow,
)
from caseflow.security.actor import Actor
from caseflow.services.unit_of_work import unit_of_work

from . import admin_records as rec
from .paging import Page, paged
from .people import create_person, generate_password, set_password

KIND = "person"
EDITABLE = ("full_name", "roles", "department_id", "center_id", "phone", "email")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


def list_people(session: Session, *, active: bool | None = None, role: str | None = None,
                department_id: int | None = None, q: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    """People by username, filtered by active, role, department and ``q`` (part of the username or name)."""
    query = rec.active_filter(select(Person), Person, active)
    if role:
        query = query.where(Person.id.in_(select(PersonRole.person_id).where(PersonRole.role == role)))
    if department_id is not None:
        query = query.where(Person.department_id == department_id)
    if q:
        like = f"%{q.strip().lower()}%"
        query = query.where(or_(func.lower(Person.username).like(like), func.lower(Person.full_name).like(like)))
    # Their departments in one query: a page's statements do not grow with its size.
    query = query.options(selectinload(Person.department))
    return paged(session, query.order_by(Person.username, Person.id), page, per_page)


def _values(session: Session, values: Mapping[str, Any], person: Person | None = None) -> dict[str, Any]:
    out = rec.known_values(values, EDITABLE, "full_name")
    if "roles" in values:
        roles = list(dict.fromkeys(values["roles"] or []))
        if not roles:
            raise ValidationFailed("at least one role is required", field="roles")
        bad = [r for r in roles if r not in ROLES]
        if bad:
            raise ValidationFailed(f"unknown role {bad[0]!r}; roles are {', '.join(ROLES)}", field="roles")
        out["roles"] = roles
    if "department_id" in values:
        dept_id = values["department_id"]
        if dept_id is not None:
            dept = session.get(Department, dept_id) if isinstance(dept_id, int) else None
            keeps = person is not None and person.department_id == dept_id
            if dept is None or (not dept.active and not keeps):
                raise ValidationFailed(f"no active department with id {dept_id}", field="department_id")
        out["department_id"] = dept_id
    if "center_id" in values:
        center_id = values["center_id"]
        if center_id is not None and (not isinstance(center_id, int) or session.get(Center, center_id) is None):
            raise ValidationFailed(f"center {center_id} does not exist", field="center_id")
        out["center_id"] = center_id
    for name, limit in (("phone", 32), ("email", 120)):
        if name in values:
            text = (values[name] or "").strip()
            if len(text) > limit:
                raise ValidationFailed(f"{name} must be at most {limit} characters", field=name)
            if name == "email" and text and not EMAIL_RE.match(text):
                raise ValidationFailed("email is not an email address", field="email")
            out[name] = text
    return out


def create(session: Session, actor: Actor, *, username: str, full_name: str, roles: list[str],
           department_id: int | None = None, center_id: int | None = None, phone: str = "", email: str = "",
           password: str | None = None) -> tuple[rec.Saved, str | None]:
    """A new active person (admin). Without ``password`` one is generated and returned (shown once).
    ``ValidationFailed`` naming the field (see :func:`caseflow.services.people.create_person`).
    Ledgered ``create_person`` (never the password); commits."""
    generated = None if password else generate_password()
    with unit_of_work(session, what="person"):
        role = rec.require_admin(actor, "create_person", KIND, f"person {username}")
        checked = _values(session, {"full_name": full_name, "roles": roles, "department_id": department_id,
                                    "center_id": center_id, "phone": phone, "email": email})
        person = create_person(session, username, checked["full_name"], password or generated or "", checked["roles"],
                               checked["department_id"], checked["center_id"], phone=checked["phone"],
                               email=checked["email"], commit=False)
        rec.record_change(session, actor, role, KIND, person, "create_person", {
            "username": person.username, "full_name": person.full_name, "roles": checked["roles"],
            "department_id": person.department_id, "center_id": person.center_id,
            "password": "generated" if generated else "given"})
    return rec.Saved(person), generated


def update(session: Session, actor: Actor, person_id: int, values: Mapping[str, Any]) -> rec.Saved:
    """Change the fields of :data:`EDITABLE` that ``values`` gives (admin; the username stays).
    A handler needs a department; the last active administrator keeps ``admin``. Ledgered
    ``update_person`` with each change; commits."""
    with rec.changing(session, actor, KIND, Person, person_id, "update_person") as (role, person):
        checked = _values(session, values, person)
        roles = checked.pop("roles", None)
        changes = rec.apply(person, checked)
        if roles is not None and set(roles) != person.roles:
            if "admin" in person.roles and "admin" not in roles:
                _not_last_admin(session, person, "roles")
            changes["roles"] = [sorted(person.roles), sorted(roles)]
            # One row at a time: replacing the list would insert before deleting (unique person, role).
            for row in [r for r in person.role_rows if r.role not in roles]:
                person.role_rows.remove(row)
            held = {r.role for r in person.role_rows}
            person.role_rows.extend(PersonRole(role=r) for r in roles if r not in held)
        if "handler" in person.roles and person.department_id is None:
            # A handler's scope is their department; without one they could see nothing.
            raise ValidationFailed("a handler needs a department", field="department_id")
        if changes:
            rec.record_change(session, actor, role, KIND, person, "update_person",
                              {"username": person.username, "changes": changes})
    return rec.Saved(person, changes)


def reset_password(session: Session, actor: Actor, person_id: int, password: str | None = None) -> tuple[rec.Saved, str | None]:
    """Give a person a new password (argon2): ``password``, or a generated one returned once.
    ``ValidationFailed`` on ``password`` when too short. Ledgered ``reset_password`` without it; commits."""
    generated = None if password else generate_password()
    with rec.changing(session, actor, KIND, Person, person_id, "reset_password") as (role, person):
        set_password(session, person, password or generated or "", commit=False)
        rec.record_change(session, actor, role, KIND, person, "reset_password",
                          {"username": person.username, "password": "generated" if generated else "given"})
    return rec.Saved(person), generated


def set_active(session: Session, actor: Actor, person_id: int, active: bool) -> rec.Saved:
    """Deactivate (or reactivate) a person (admin): a deactivated person cannot sign in or use a token.
    Refused for oneself and for the last active administrator. Places they still hold come back as
    warnings. Ledgered; commits."""
    with rec.changing(session, actor, KIND, Person, person_id, "set_person_active") as (role, person):
        warnings: list[tuple[str, str]] = []
        if not active:
            if actor.person_id == person.id:
                raise ValidationFailed("you cannot deactivate yourself", field="active")
            if "admin" in person.roles:
                _not_last_admin(session, person, "active")
            warnings = still_named(session, person.id)
        trigger = rec.active_change(person, active, KIND)
        rec.record_change(session, actor, role, KIND, person, trigger, {"username": person.username})
    return rec.Saved(person, {"active": [not active, active]}, warnings)


def _not_last_admin(session: Session, person: Person, field: str) -> None:
    others = session.execute(select(func.count()).select_from(Person).where(
        Person.id != person.id, Person.active.is_(True),
        Person.id.in_(select(PersonRole.person_id).where(PersonRole.role == "admin")))).scalar_one()
    if not others:
        raise ValidationFailed("the last active administrator must stay an active administrator", field=field)


def still_named(session: Session, person_id: int) -> list[tuple[str, str]]:
    """Where a person is still named for work to come: ``(zh, en)`` notes."""
    notes: list[tuple[str, str]] = []
    for code, name in session.execute(select(Department.code, Department.name).where(Department.head_id == person_id)):
        notes.append((f"仍是 {name} 的负责人", f"still the head of {code}"))
    for group_name, in session.execute(select(ActionGroup.name).where(ActionGroup.leader_id == person_id)):
        notes.append((f"仍是 {group_name} 的组长", f"still the leader of {group_name}"))
    for kind, field in session.execute(select(LeaderPosition.kind, LeaderPosition.field)
                                       .where(LeaderPosition.person_id == person_id)):
        notes.append((f"仍担任领导职位 {kind} {field}".strip(), f"still holds the leader position {kind} {field}".strip()))
    for code, in session.execute(select(Grid.code).where(Grid.leader_id == person_id)):
        notes.append((f"仍是网格 {code} 的网格长", f"still the grid leader of {code}"))
    shifts = session.execute(select(func.count(func.distinct(DutyShift.id))).select_from(DutyAssignment)
                             .join(DutyShift, DutyShift.id == DutyAssignment.shift_id)
                             .where(DutyAssignment.person_id == person_id, DutyShift.ends_at > utcnow())).scalar_one()
    if shifts:
        notes.append((f"仍排在 {shifts} 个未结束的班次上", f"still on {shifts} shift(s) not yet over"))
    return notes


__all__ = ["EDITABLE", "create", "list_people", "reset_password", "set_active", "still_named", "update"]
