"""The administered kinds by name (``areas``, ``departments``, ``categories``, ``people``, ``grids``), each with the
same five operations, so the API and the console drive every kind the same way."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from caseflow.models import Area, Category, Department, Grid, Person
from caseflow.security.actor import Actor

from . import admin_areas, admin_categories, admin_departments, admin_grids, admin_people
from .admin_records import Saved
from .paging import Page


@dataclass(frozen=True)
class AdminKind:
    """One kind: its model, ledger item type, and operations.

    ``create`` returns the saved record and the generated password (people only, else None).
    """

    name: str
    ledger_type: str
    model: type
    listing: Callable[..., Page]
    create: Callable[[Session, Actor, dict[str, Any]], tuple[Saved, str | None]]
    update: Callable[[Session, Actor, int, dict[str, Any]], Saved]
    set_active: Callable[[Session, Actor, int, bool], Saved]


def _no_password(saved: Saved) -> tuple[Saved, None]:
    return saved, None


KINDS: dict[str, AdminKind] = {
    "areas": AdminKind("areas", "area", Area, admin_areas.list_areas,
                       lambda s, a, v: _no_password(admin_areas.create_area(s, a, **v)),
                       admin_areas.update_area, admin_areas.set_area_active),
    "departments": AdminKind("departments", "department", Department, admin_departments.list_departments,
                             lambda s, a, v: _no_password(admin_departments.create_department(s, a, **v)),
                             admin_departments.update_department, admin_departments.set_department_active),
    "categories": AdminKind("categories", "category", Category, admin_categories.list_categories,
                            lambda s, a, v: _no_password(admin_categories.create_category(s, a, **v)),
                            admin_categories.update_category, admin_categories.set_category_active),
    "people": AdminKind("people", "person", Person, admin_people.list_people,
                        lambda s, a, v: admin_people.create(s, a, **v), admin_people.update, admin_people.set_active),
    "grids": AdminKind("grids", "grid", Grid, admin_grids.list_grids,
                       lambda s, a, v: _no_password(admin_grids.create_grid(s, a, **v)),
                       admin_grids.update_grid, admin_grids.set_grid_active),
}
