"""Which center an item belongs to, worked out in SQL for many items at once.

The same rule as :func:`caseflow.deadlines.targets.item_center_id` (its own center, else its
department's, else its grid's; an item with none belongs to every center), as a column
expression, so a list of items is placed in one query instead of one or two per item.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from caseflow.models import Department, Grid


def with_center(query: Select[Any], model: Any) -> tuple[Select[Any], ColumnElement[Any]]:
    """``query`` (selecting from ``model``) joined to what places an item in a center, and the
    center expression: the item's own center, else its department's, else its grid's."""
    columns = model.__table__.c
    parts: list[ColumnElement[Any]] = []
    if "center_id" in columns:
        parts.append(columns.center_id)
    if "department_id" in columns:
        dept = aliased(Department)
        query = query.outerjoin(dept, dept.id == columns.department_id)
        parts.append(dept.center_id)
    if "grid_id" in columns:
        grid = aliased(Grid)
        query = query.outerjoin(grid, grid.id == columns.grid_id)
        parts.append(grid.center_id)
    if not parts:
        return query, literal(None)
    return query, parts[0] if len(parts) == 1 else func.coalesce(*parts)


def in_center(center: ColumnElement[Any], center_id: int) -> ColumnElement[bool]:
    """The item belongs to ``center_id``: it is placed there, or nowhere (then it is every center's)."""
    return or_(center == center_id, center.is_(None))


def centers_of(session: Session, model: Any, ids: set[int] | list[int]) -> dict[int, int | None]:
    """``{item id: center id or None}`` for the ``model`` items with these ids, in one query.

    A model whose center is not a column of its own (a handover's is its shift's) is placed one
    item at a time by :func:`caseflow.deadlines.targets.item_center_id`.
    """
    if not ids:
        return {}
    columns = model.__table__.c
    if not {"center_id", "department_id", "grid_id"} & set(columns.keys()):
        from .targets import item_center_id

        items = session.execute(select(model).where(model.id.in_(list(ids)))).scalars()
        return {item.id: item_center_id(session, item) for item in items}
    query, center = with_center(select(model.id), model)
    query = query.add_columns(center).where(model.id.in_(list(ids)))
    return {row[0]: row[1] for row in session.execute(query).all()}
