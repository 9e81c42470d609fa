"""Areas (片区/区域): main urban (主城区) or other (其它区域), the kind that sets an instruction's
arrival deadline (30 or 60 minutes, seed 001 篇三). Administrators list, create, edit and
(de)activate them; every change is ledgered (item type ``area``, see :mod:`admin_records`).

An instruction keeps the area kind it was received with, so changing an area's kind applies to
instructions received from then on. An area that still holds active grids cannot be deactivated: a
grid names its area to decide that deadline (move or deactivate the grids first).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caseflow.errors import ValidationFailed
from caseflow.models import AREA_KINDS, Area, Grid
from caseflow.security.actor import Actor

from . import admin_records as rec
from .paging import Page

KIND = "area"
EDITABLE = ("name", "kind")


def list_areas(session: Session, *, active: bool | None = None, page: int = 1, per_page: int = 100) -> Page:
    """Areas by code; ``active`` True/False for only those, None for all."""
    return rec.list_by_code(session, Area, active=active, page=page, per_page=per_page)


def grid_counts(session: Session, area_ids: list[int]) -> dict[int, int]:
    """How many grids each area holds."""
    if not area_ids:
        return {}
    rows = session.execute(select(Grid.area_id, func.count()).where(Grid.area_id.in_(area_ids)).group_by(Grid.area_id))
    return {area_id: n for area_id, n in rows.all()}


def _values(values: Mapping[str, Any]) -> dict[str, Any]:
    out = rec.known_values(values, EDITABLE)
    if "kind" in values:
        out["kind"] = rec.check_choice(values["kind"], AREA_KINDS, "kind")
    return out


def create_area(session: Session, actor: Actor, *, code: str, name: str, kind: str) -> rec.Saved:
    """A new active area (admin); ``ValidationFailed`` on ``code`` (malformed or taken), ``name``, ``kind``.
    Ledgered ``create_area``; commits."""
    with rec.creating(session, actor, KIND, Area, code) as (role, code):
        values = _values({"name": name, "kind": kind})
        area = Area(code=code, active=True, **values)
        session.add(area)
        rec.record_change(session, actor, role, KIND, area, "create_area", {"code": code, **values})
    return rec.Saved(area)


def update_area(session: Session, actor: Actor, area_id: int, values: Mapping[str, Any]) -> rec.Saved:
    """Change an area's ``name`` and/or ``kind`` (admin; the code stays). A new kind applies to
    instructions received from then on. Ledgered ``update_area`` with each change; commits.
    Nothing to change: the area as it is, unledgered."""
    with rec.changing(session, actor, KIND, Area, area_id, "update_area") as (role, area):
        changes = rec.apply(area, _values(values))
        warnings = []
        if changes:
            rec.record_change(session, actor, role, KIND, area, "update_area", {"code": area.code, "changes": changes})
        if "kind" in changes:
            minutes = 30 if area.kind == "main_urban" else 60
            warnings.append((f"此后接收的本区域指令按 {minutes} 分钟到场时限；已接收的指令不变。",
                             f"Instructions received from now on in this area get the {minutes}-minute arrival "
                             "deadline; those already received keep theirs."))
    return rec.Saved(area, changes, warnings)


def set_area_active(session: Session, actor: Actor, area_id: int, active: bool) -> rec.Saved:
    """Deactivate (or reactivate) an area (admin). An area that still holds active grids stays active:
    ``ValidationFailed`` on ``active`` naming them. Ledgered; commits."""
    with rec.changing(session, actor, KIND, Area, area_id, "set_area_active") as (role, area):
        if not active:
            grids = list(session.execute(select(Grid.code).where(Grid.area_id == area.id, Grid.active.is_(True))
                                         .order_by(Grid.code)).scalars())
            if grids:
                shown = ", ".join(grids[:10]) + (" ..." if len(grids) > 10 else "")
                raise ValidationFailed(
                    f"area {area.code} still holds {len(grids)} active grid(s) ({shown}); move them to another "
                    "area or deactivate them first", field="active", details={"grids": grids})
        trigger = rec.active_change(area, active, KIND)
        rec.record_change(session, actor, role, KIND, area, trigger, {"code": area.code})
    return rec.Saved(area, {"active": [not active, active]})
