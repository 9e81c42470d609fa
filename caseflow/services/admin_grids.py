"""Grids (网格): the cells of an area, each kept by a grid leader (网格长), with a boundary drawn on
the leader's map. Administrators list, create, edit and (de)activate them one at a time, as the
bulk import does many; every change is ledgered (item type ``grid``, see :mod:`admin_records`).

A grid names its area, whose kind sets a new case's or instruction's arrival deadline, so a grid
is put in (or moved to) an active area only. A deactivated grid takes no new case (see
:mod:`caseflow.services.active_records`) while every case and instruction that names it keeps it;
it is reactivated only while its area is active. Changing a grid's area or center applies to
items reported from then on.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caseflow.errors import ValidationFailed
from caseflow.models import Area, Case, Center, Grid, Instruction, Person
from caseflow.security.actor import Actor

from . import admin_records as rec
from .grid_shapes import check_shape
from .paging import Page, paged

KIND = "grid"
EDITABLE = ("name", "area_id", "center_id", "leader_id", "shape")


def list_grids(session: Session, *, active: bool | None = None, area_id: int | None = None, page: int = 1,
               per_page: int = 100) -> Page:
    """Grids by code; ``active`` True/False for only those, None for all; ``area_id`` for one area's."""
    query = rec.active_filter(select(Grid), Grid, active)
    if area_id is not None:
        query = query.where(Grid.area_id == area_id)
    return paged(session, query.order_by(Grid.code, Grid.id), page, per_page)


def _area(session: Session, area_id: Any, current_id: int | None) -> int:
    area = session.get(Area, area_id) if isinstance(area_id, int) and not isinstance(area_id, bool) else None
    if area is None:
        raise ValidationFailed(f"area {area_id} does not exist", field="area_id")
    if not area.active and area.id != current_id:
        raise ValidationFailed(f"area {area.code} ({area.name}) is inactive; choose an active area", field="area_id")
    return area.id


def _center(session: Session, center_id: Any) -> int | None:
    if center_id is None:
        return None
    if not isinstance(center_id, int) or isinstance(center_id, bool) or session.get(Center, center_id) is None:
        raise ValidationFailed(f"center {center_id} does not exist", field="center_id")
    return center_id


def _leader(session: Session, person_id: Any, current_id: int | None) -> int | None:
    if person_id in (None, ""):
        return None
    person = session.get(Person, person_id) if isinstance(person_id, int) and not isinstance(person_id, bool) else None
    # The leader the grid has now may stay even if deactivated since (a rename does not need a new one).
    if person is None or not (person.active or person.id == current_id):
        raise ValidationFailed(f"no active person with id {person_id}", field="leader_id")
    return person.id


def _values(session: Session, values: Mapping[str, Any], grid: Grid | None) -> dict[str, Any]:
    out = rec.known_values(values, EDITABLE)
    if "area_id" in values:
        out["area_id"] = _area(session, values["area_id"], grid.area_id if grid else None)
    if "center_id" in values:
        out["center_id"] = _center(session, values["center_id"])
    if "leader_id" in values:
        out["leader_id"] = _leader(session, values["leader_id"], grid.leader_id if grid else None)
    if "shape" in values:
        out["shape"] = check_shape(values["shape"])
    return out


def create_grid(session: Session, actor: Actor, *, code: str, name: str, area_id: int, **values: Any) -> rec.Saved:
    """A new active grid (admin) in an active area, with the other fields of :data:`EDITABLE`;
    ``ValidationFailed`` naming the field. Ledgered ``create_grid``; commits."""
    with rec.creating(session, actor, KIND, Grid, code) as (role, code):
        checked = _values(session, {"name": name, "area_id": area_id, **values}, None)
        grid = Grid(code=code, active=True, **checked)
        session.add(grid)
        rec.record_change(session, actor, role, KIND, grid, "create_grid", {"code": code, **checked})
    return rec.Saved(grid)


def update_grid(session: Session, actor: Actor, grid_id: int, values: Mapping[str, Any]) -> rec.Saved:
    """Change the fields of :data:`EDITABLE` that ``values`` gives (admin; the code stays). A new
    area must be active. Ledgered ``update_grid`` with each change; commits. Nothing to change:
    the grid as it is, unledgered."""
    with rec.changing(session, actor, KIND, Grid, grid_id, "update_grid") as (role, grid):
        changes = rec.apply(grid, _values(session, values, grid))
        warnings = []
        if changes:
            rec.record_change(session, actor, role, KIND, grid, "update_grid", {"code": grid.code, "changes": changes})
        if "area_id" in changes:
            session.flush()
            session.refresh(grid, ["area"])
            minutes = 30 if grid.area.kind == "main_urban" else 60
            warnings.append((f"此后在本网格上报的事项按新区域 {grid.area.name} 计（到场时限 {minutes} 分钟）；已有事项不变。",
                             f"Items reported on this grid from now on belong to area {grid.area.code} "
                             f"({minutes}-minute arrival deadline); those already reported keep theirs."))
    return rec.Saved(grid, changes, warnings)


def open_items(session: Session, grid_id: int) -> dict[str, int]:
    """Cases and instructions on the grid that are not closed (final state or closed_at)."""
    from caseflow.workflow.engine import get_catalog

    out = {}
    for item_type, model in (("case", Case), ("instruction", Instruction)):
        finals = {s.name for d in get_catalog().all() if d.item == item_type for s in d.states.values() if s.final}
        query = select(func.count()).select_from(model).where(model.grid_id == grid_id, model.closed_at.is_(None))
        if finals:
            query = query.where(model.state.not_in(finals))
        out[item_type] = session.execute(query).scalar_one()
    return out


def set_grid_active(session: Session, actor: Actor, grid_id: int, active: bool) -> rec.Saved:
    """Deactivate (or reactivate) a grid (admin). Its open cases and instructions keep it and come back
    as a warning; a grid of a deactivated area is not reactivated (``ValidationFailed`` on ``active``).
    Ledgered; commits."""
    with rec.changing(session, actor, KIND, Grid, grid_id, "set_grid_active") as (role, grid):
        warnings = []
        if active and grid.area is not None and not grid.area.active:
            raise ValidationFailed(f"grid {grid.code} lies in area {grid.area.code}, which is inactive; reactivate "
                                   "the area or move the grid to an active area first", field="active")
        if not active:
            work = open_items(session, grid.id)
            if any(work.values()):
                warnings.append((f"本网格仍有 {work['case']} 件未办结案件、{work['instruction']} 条未办结指令，照常办理。",
                                 f"{work['case']} open case(s) and {work['instruction']} open instruction(s) on this "
                                 "grid go on as before."))
        trigger = rec.active_change(grid, active, KIND)
        rec.record_change(session, actor, role, KIND, grid, trigger, {"code": grid.code})
    return rec.Saved(grid, {"active": [not active, active]}, warnings)
