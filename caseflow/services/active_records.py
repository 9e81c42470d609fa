"""Deactivated records (停用) take no new work: the one place that says so.

Administrators deactivate departments, categories and areas instead of deleting them (see
:mod:`admin_records`). Every case, instruction and ledger entry that names one keeps pointing at
it and stays readable; what changes is that new work may not choose it: no new case or
instruction under a deactivated category, no dispatch, transfer or suggestion to a deactivated
department, no new case on a deactivated grid or a grid whose area is deactivated, and no routing
through a category whose responsible department is deactivated.

Services call :func:`require_active` (and :func:`usable_grid`, :func:`active_responsible`) after
looking a record up; forms list :func:`offered` / :func:`offered_grids`. A value an item already
has may be kept (``keep_id``): re-sending the current category of an old case changes nothing.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager

from caseflow.errors import DomainError, ValidationFailed
from caseflow.models import Area, Category, Department, Grid

T = TypeVar("T")

# What a record is called in a refusal: (Chinese, English), by table name.
KIND_NAMES = {"category": ("类别", "category"), "department": ("部门", "department"), "area": ("区域", "area"),
              "grid": ("网格", "grid")}


def _label(record: Any) -> str:
    name = getattr(record, "name", "") or ""
    return f"{record.code}（{name}）" if name else str(record.code)


def require_active(record: T, field: str, *, keep_id: int | None = None,
                   error: type[DomainError] = ValidationFailed) -> T:
    """``record`` when it is active (or is ``keep_id``, the value the item already has); otherwise
    ``error`` (a 422 ``ValidationFailed`` unless told) naming ``field`` and the record."""
    row: Any = record  # a Department, Category, Area or Grid: each has id, code, name and active
    if row.active or (keep_id is not None and row.id == keep_id):
        return record
    zh, en = KIND_NAMES.get(row.__tablename__, (row.__tablename__, row.__tablename__))
    raise error(f"{zh} {_label(row)} 已停用，请选择在用的{zh} / {en} {row.code} ({row.name}) is inactive; "
                f"choose an active {en}", field=field)


def usable_grid(grid: Grid, field: str, *, keep_id: int | None = None) -> Grid:
    """``grid`` unless it or its area is deactivated (then ``ValidationFailed`` on ``field`` naming
    them); ``keep_id`` is the grid the item already has."""
    if keep_id is not None and grid.id == keep_id:
        return grid
    require_active(grid, field)
    area = grid.area
    if area is None or area.active:
        return grid
    raise ValidationFailed(
        f"网格 {_label(grid)} 所在区域 {_label(area)} 已停用 / grid {grid.code} lies in area {area.code} "
        f"({area.name}), which is inactive; choose a grid of an active area", field=field)


def active_responsible(category: Category, field: str) -> Department | None:
    """The category's responsible department (None when it names none). A deactivated one is refused
    with ``ValidationFailed`` on ``field`` naming the category and the department: work is never
    routed to it silently."""
    dept = category.responsible_department
    if dept is None or dept.active:
        return dept
    raise ValidationFailed(
        f"类别 {_label(category)} 的责任部门 {_label(dept)} 已停用，请先为该类别指定在用的部门 / the responsible "
        f"department {dept.code} ({dept.name}) of category {category.code} is inactive; give the category an "
        "active department first", field=field)


def offered(session: Session, model: type[T], *, keep_ids: Iterable[int | None] = ()) -> list[T]:
    """Active rows of ``model`` (departments, categories, areas) by code for a form offering new
    work, plus ``keep_ids`` (values items on the page already have, so a form shows them as they are)."""
    keep = {i for i in keep_ids if i is not None}
    cond = model.active.is_(True)  # type: ignore[attr-defined]
    if keep:
        cond = cond | model.id.in_(keep)  # type: ignore[attr-defined]
    return list(session.execute(select(model).where(cond).order_by(model.code)).scalars())  # type: ignore[attr-defined]


def offered_grids(session: Session, *, keep_ids: Iterable[int | None] = ()) -> list[Grid]:
    """Active grids of active areas by code, plus ``keep_ids``."""
    keep = {i for i in keep_ids if i is not None}
    cond = Area.active.is_(True) & Grid.active.is_(True)
    if keep:
        cond = cond | Grid.id.in_(keep)
    return list(session.execute(select(Grid).join(Area, Grid.area_id == Area.id).where(cond)
                                .options(contains_eager(Grid.area)).order_by(Grid.code)).scalars())


__all__ = ["active_responsible", "offered", "offered_grids", "require_active", "usable_grid"]
