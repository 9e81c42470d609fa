"""Reclassification at registration (立案改类): correct a case's category (类别) or grid (网格).

A report often arrives under the wrong category or without a grid; the dispatcher fixes that
while reviewing it, before anyone is dispatched. Afterwards the category decides the
responsible department and the time limits of the handling stages, so a later change would
pull the ground from under a department already at work: then it is refused (change the tier
or dispatch a second time instead).

The change is no workflow transition (the state stays), but it is ledgered like one: a
``reclassify`` entry with the old and new values. Re-sending the same values changes nothing
and writes nothing, so a double submit is harmless.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.errors import InvalidTransition, ValidationFailed
from caseflow.models import Case, Category, Grid, utcnow
from caseflow.security.actor import Actor
from caseflow.services import ledger, transition
from caseflow.services.access import deny
from caseflow.services.active_records import active_responsible, require_active, usable_grid

from . import duplicates
from .guard import commit_or_rollback, ensure_writable

# The states of every case workflow before a department is given the case (simple cases have no
# dispatch: they stay with the patrol that found them and may be reclassified while reported).
BEFORE_DISPATCH = ("reported", "verifying", "registered")
ROLES = ("dispatcher",)
TRIGGER = "reclassify"


def allowed(case: Case) -> bool:
    """Whether the case's category and grid may still change (it is not yet dispatched)."""
    return case.state in BEFORE_DISPATCH and not case.read_only


def _category(session: Session, category_id: int | None, current_id: int | None) -> Category | None:
    """The new category: it must exist and be active, unless it is the one the case has now."""
    if category_id is None:
        return None
    category = session.get(Category, category_id)
    if category is None:
        raise ValidationFailed(f"category {category_id} does not exist", field="category_id")
    return require_active(category, "category_id", keep_id=current_id)


def _grid(session: Session, grid_id: int | None, current_id: int | None) -> Grid | None:
    """The new grid: it must exist and lie in an active area, unless it is the one the case has now."""
    if grid_id is None:
        return None
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise ValidationFailed(f"grid {grid_id} does not exist", field="grid_id")
    return usable_grid(grid, "grid_id", keep_id=current_id)


def _role(actor: Actor, case: Case) -> str:
    for role in ROLES:
        if role in actor.roles:
            return role
    raise deny(actor, TRIGGER, f"case {case.id}", f"role not allowed to {TRIGGER}: needs one of {', '.join(ROLES)}")


def reclassify(session: Session, case_id: int, *, actor: Actor, category_id: int | None = None,
               grid_id: int | None = None, reason: str = "", comment: str = "") -> Case:
    """Set the case's category and/or grid (dispatcher, before dispatch) and commit.

    ``None`` leaves a value as it is. The grid also sets the case's center and area kind (main
    urban or other); a simple case whose holder came from the old category's responsible
    department moves to the new one's. Duplicate candidates are looked up again, since they
    depend on the category. Returns the case; when nothing changes, nothing is written.

    Raises ``ValidationFailed`` (no such category or grid, or neither given, a deactivated
    category, a grid of a deactivated area, or a simple case's new department deactivated; naming
    the field), ``NotFound``, ``PermissionDenied`` (not a dispatcher; audited),
    ``InvalidTransition`` (already dispatched, or archived / void).
    """
    if category_id is None and grid_id is None:
        raise ValidationFailed("give a category_id or a grid_id to change", field="category_id")
    if len(reason or "") > 2000:
        raise ValidationFailed("reason is longer than 2000 characters", field="reason")
    with commit_or_rollback(session, Effects()):
        case: Case = transition.lock_item(session, "case", case_id)  # type: ignore[assignment]
        ensure_writable(case)
        role = _role(actor, case)
        if not allowed(case):
            raise InvalidTransition(f"case {case.number} is '{case.state}': category and grid change only "
                                    "before dispatch", details={"state": case.state})
        category = _category(session, category_id, case.category_id)
        grid = _grid(session, grid_id, case.grid_id)
        changed = _apply(case, category, grid)
        if not changed:
            return case
        if "category" in changed:
            _refresh_candidates(session, case)
        now = utcnow()
        ledger.append(
            session, item_type="case", item_id=case.id, trigger=TRIGGER, actor=actor, role=role, at=now,
            from_state=case.state, to_state=case.state, workflow=case.workflow,
            workflow_version=case.workflow_version, comment=comment or reason,
            payload={"changed": changed, "reason": reason or None,
                     "default_tier": category.default_tier if category is not None else None},
            item=case,
        )
        case.updated_at = now
    return case


def _apply(case: Case, category: Category | None, grid: Grid | None) -> dict[str, Any]:
    """Change the case in place; returns ``{field: {"from": old, "to": new}}`` of what changed."""
    changed: dict[str, Any] = {}
    if category is not None and category.id != case.category_id:
        old = case.category
        changed["category"] = {"from": old.code if old else None, "to": category.code}
        if case.tier == "simple" and old is not None and case.department_id == old.responsible_department_id \
                and category.responsible_department_id is not None:
            # The holder was the old category's department, not the patrol that found it; the
            # new one's must be active (refused, naming it, otherwise).
            new_holder = active_responsible(category, "category_id")
            assert new_holder is not None  # responsible_department_id is set
            changed["department_id"] = {"from": case.department_id, "to": new_holder.id}
            case.department_id = new_holder.id
        case.category_id = category.id
        case.category = category
    if grid is not None and grid.id != case.grid_id:
        old_grid = case.grid
        changed["grid"] = {"from": old_grid.code if old_grid else None, "to": grid.code}
        area_kind = grid.area.kind if grid.area is not None else case.area_kind
        if area_kind != case.area_kind:
            changed["area_kind"] = {"from": case.area_kind, "to": area_kind}
            case.area_kind = area_kind
        if grid.center_id is not None and grid.center_id != case.center_id:
            changed["center_id"] = {"from": case.center_id, "to": grid.center_id}
            case.center_id = grid.center_id
        case.grid_id = grid.id
        case.grid = grid
    return changed


def _refresh_candidates(session: Session, case: Case) -> None:
    """Duplicate candidates are cases of the same category nearby: look them up for the new one."""
    data = dict(case.data or {})
    candidates = duplicates.find_candidates(session, case)
    if candidates:
        data["duplicate_candidates"] = candidates
    else:
        data.pop("duplicate_candidates", None)
    case.data = data
