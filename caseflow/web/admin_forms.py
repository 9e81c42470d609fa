"""The forms and lists of the administration pages (areas, grids, departments, categories, people), declared
once: each field's name (the service's), label, input type and choices, and how a submitted form
becomes the values a service takes. Pages render them with ``templates/admin/record.html``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.errors import ValidationFailed
from caseflow.models import AREA_KINDS, TIERS, Area, Center, Department, Person

from .i18n import t

# (session, the record edited or None, the value the field shows) -> [(value, label)]
Choices = Callable[[Session, Any, Any], list[tuple[str, str]]]


@dataclass(frozen=True)
class Field:
    """One form field: ``kind`` is text, select, checkbox, roles, password or json (a text area holding
    JSON, e.g. a grid's GeoJSON boundary); ``create_only`` fields (codes, usernames, the first password)
    are set once."""

    name: str
    label: str  # i18n key
    kind: str = "text"
    choices: Choices | None = None
    required: bool = False
    create_only: bool = False
    max_len: int = 120
    hint: str = ""  # i18n key


@dataclass(frozen=True)
class Column:
    """One column of a list: its label (i18n key) and the cell's text."""

    label: str
    cell: Callable[[Any], str]


@dataclass(frozen=True)
class Form:
    """A kind's fields and list columns."""

    fields: tuple[Field, ...]
    columns: tuple[Column, ...] = field(default=())


def _none() -> list[tuple[str, str]]:
    return [("", t("adm.none"))]


def center_choices(session: Session, record: Any, value: Any = None) -> list[tuple[str, str]]:
    """Every center."""
    return _none() + [(str(c.id), f"{c.name} ({c.code})")
                      for c in session.execute(select(Center).order_by(Center.code)).scalars()]


def department_choices(session: Session, record: Any, value: Any = None) -> list[tuple[str, str]]:
    """Active departments, plus the one chosen now (marked when inactive)."""
    cond = Department.active.is_(True)
    if isinstance(value, int):
        cond = cond | (Department.id == value)
    rows = session.execute(select(Department).where(cond).order_by(Department.code)).scalars()
    return _none() + [(str(d.id), f"{d.name} ({d.code})" + ("" if d.active else f" · {t('adm.inactive')}"))
                      for d in rows]


def area_choices(session: Session, record: Any, value: Any = None) -> list[tuple[str, str]]:
    """Active areas with their arrival deadline, plus the one chosen now (marked when inactive)."""
    cond = Area.active.is_(True)
    if isinstance(value, int):
        cond = cond | (Area.id == value)
    rows = session.execute(select(Area).where(cond).order_by(Area.code)).scalars()
    return _none() + [(str(a.id), f"{a.name} ({a.code}) · {t('area.' + a.kind)}" + ("" if a.active else
                                                                                   f" · {t('adm.inactive')}"))
                      for a in rows]


def person_choices(session: Session, record: Any, value: Any = None) -> list[tuple[str, str]]:
    """Active people (of the department, when editing one), plus the one chosen now."""
    cond = Person.active.is_(True)
    if isinstance(record, Department):
        cond = cond & (Person.department_id == record.id)
    if isinstance(value, int):
        cond = cond | (Person.id == value)
    rows = session.execute(select(Person).where(cond).order_by(Person.username)).scalars()
    return _none() + [(str(p.id), f"{p.full_name} ({p.username})") for p in rows]


def _fixed(values: tuple[str, ...], prefix: str) -> Choices:
    return lambda session, record, value: [(v, t(f"{prefix}{v}")) for v in values]


def _yes_no(value: bool) -> str:
    return t("yes") if value else t("no")


def shape_text(shape: Any) -> str:
    """A stored boundary as a list cell: its kind and corner count, or "—"."""
    from caseflow.services.grid_shapes import outer_rings

    rings = outer_rings(shape)
    if not rings:
        return "—"
    return t("adm.shape_summary", polygons=len(rings), points=sum(max(len(r) - 1, 0) for r in rings))


FORMS: dict[str, Form] = {
    "areas": Form(
        fields=(Field("code", "col.code", required=True, create_only=True, max_len=40, hint="adm.hint.code"),
                Field("name", "col.name", required=True),
                Field("kind", "adm.area_kind", "select", _fixed(AREA_KINDS, "area."), required=True,
                      hint="adm.hint.area_kind")),
        columns=(Column("col.code", lambda a: a.code), Column("col.name", lambda a: a.name),
                 Column("adm.area_kind", lambda a: t(f"area.{a.kind}")),
                 Column("adm.arrival", lambda a: t("adm.minutes", n=30 if a.kind == "main_urban" else 60)))),
    "departments": Form(
        fields=(Field("code", "col.code", required=True, create_only=True, max_len=40, hint="adm.hint.code"),
                Field("name", "col.name", required=True),
                Field("kind", "col.kind", "select", _fixed(("department", "unit"), "kind.")),
                Field("center_id", "adm.center", "select", center_choices),
                Field("head_id", "col.head", "select", person_choices),
                Field("working_hours", "adm.working_hours", max_len=80, hint="adm.hint.working_hours"),
                Field("action_group_name", "adm.action_group"),
                Field("action_group_leader_id", "col.group_leader", "select", person_choices)),
        columns=(Column("col.code", lambda d: d.code), Column("col.name", lambda d: d.name),
                 Column("col.kind", lambda d: t(f"kind.{d.kind}")),
                 Column("col.head", lambda d: d.head.full_name if d.head else ""))),
    "categories": Form(
        fields=(Field("code", "col.code", required=True, create_only=True, max_len=40, hint="adm.hint.code"),
                Field("name", "col.name", required=True),
                Field("responsible_department_id", "adm.responsible", "select", department_choices),
                Field("default_tier", "col.default_tier", "select", _fixed(TIERS, "tier.")),
                Field("in_scope", "col.in_scope", "checkbox", hint="adm.hint.in_scope"),
                Field("field", "col.field", max_len=40, hint="adm.hint.field")),
        columns=(Column("col.code", lambda c: c.code), Column("col.name", lambda c: c.name),
                 Column("adm.responsible", lambda c: c.responsible_department.name if c.responsible_department else ""),
                 Column("col.default_tier", lambda c: t(f"tier.{c.default_tier}")),
                 Column("col.in_scope", lambda c: _yes_no(c.in_scope)))),
    "people": Form(
        fields=(Field("username", "col.username", required=True, create_only=True, max_len=64,
                      hint="adm.hint.username"),
                Field("full_name", "col.full_name", required=True),
                Field("roles", "col.roles", "roles", required=True),
                Field("department_id", "col.department", "select", department_choices, hint="adm.hint.handler"),
                Field("center_id", "adm.center", "select", center_choices),
                Field("phone", "adm.phone", max_len=32), Field("email", "adm.email"),
                Field("password", "adm.password", "password", create_only=True, max_len=200,
                      hint="adm.hint.password")),
        columns=(Column("col.username", lambda p: p.username), Column("col.full_name", lambda p: p.full_name),
                 Column("col.roles", lambda p: ", ".join(t(f"role.{r}") for r in sorted(p.roles))),
                 Column("col.department", lambda p: p.department.name if p.department else ""))),
    "grids": Form(
        fields=(Field("code", "col.code", required=True, create_only=True, max_len=40, hint="adm.hint.code"),
                Field("name", "col.name", required=True),
                Field("area_id", "col.area", "select", area_choices, required=True, hint="adm.hint.grid_area"),
                Field("center_id", "adm.center", "select", center_choices),
                Field("leader_id", "col.grid_leader", "select", person_choices),
                Field("shape", "adm.shape", "json", max_len=200_000, hint="adm.hint.shape")),
        columns=(Column("col.code", lambda g: g.code), Column("col.name", lambda g: g.name),
                 Column("col.area", lambda g: f"{g.area.name} · {t('area.' + g.area.kind)}"),
                 Column("col.grid_leader", lambda g: g.leader.full_name if g.leader else ""),
                 Column("adm.shape", lambda g: shape_text(g.shape)))),
}


def fields_for(kind: str, creating: bool) -> tuple[Field, ...]:
    """The fields a form shows: all when creating, without the create-only ones when editing."""
    return tuple(f for f in FORMS[kind].fields if creating or not f.create_only)


def read_form(kind: str, creating: bool) -> dict[str, Any]:
    """The submitted form as the service's values (ids as numbers, empty selects as None, checkboxes as
    booleans); ``ValidationFailed`` naming the field for a value that is not even of the right type."""
    values: dict[str, Any] = {}
    for f in fields_for(kind, creating):
        if f.kind == "checkbox":
            values[f.name] = request.form.get(f.name) == "1"
        elif f.kind == "roles":
            values[f.name] = request.form.getlist(f.name)  # the service names an unknown role
        elif f.name.endswith("_id"):
            raw = (request.form.get(f.name) or "").strip()
            if raw and not raw.isdigit():
                raise ValidationFailed(f"{f.name} must be chosen from the list", field=f.name)
            values[f.name] = int(raw) if raw else None
        else:
            text = (request.form.get(f.name) or "").strip() if f.kind != "password" else request.form.get(f.name) or ""
            if len(text) > f.max_len:
                raise ValidationFailed(f"{f.name} must be at most {f.max_len} characters", field=f.name)
            values[f.name] = text
    if kind == "people" and creating and not values.get("password"):
        values["password"] = None  # generate one, shown once
    return values
