"""Categories (事项类别): acceptance scope (受理范围), responsible department, default tier, field.

Administrators list, create, edit and (de)activate them; every change is ledgered (item type
``category``, see :mod:`admin_records`; the return report's one-click reassignment writes
``reassign_department`` on the same chain). The responsible department must be active. A
deactivated category is offered for no new report; cases and instructions filed under it keep it.
Its time limits per tier are the time-limit table's (``/api/time-limits``).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from caseflow.errors import ValidationFailed
from caseflow.models import TIERS, Category, Department
from caseflow.security.actor import Actor

from . import admin_records as rec
from .paging import Page

KIND = "category"
EDITABLE = ("name", "field", "in_scope", "responsible_department_id", "default_tier")
FIELD_MAX = 40


def list_categories(session: Session, *, active: bool | None = None, page: int = 1, per_page: int = 100) -> Page:
    """Categories by code; ``active`` True/False for only those, None for all."""
    return rec.list_by_code(session, Category, active=active, page=page, per_page=per_page)


def _values(session: Session, values: Mapping[str, Any], current: int | None = None) -> dict[str, Any]:
    out = rec.known_values(values, EDITABLE)
    if "field" in values:
        text = (values["field"] or "").strip()
        if len(text) > FIELD_MAX:
            raise ValidationFailed(f"field must be at most {FIELD_MAX} characters", field="field")
        out["field"] = text
    if "in_scope" in values:
        if not isinstance(values["in_scope"], bool):
            raise ValidationFailed("in_scope must be true or false", field="in_scope")
        out["in_scope"] = values["in_scope"]
    if "responsible_department_id" in values:
        dept_id = values["responsible_department_id"]
        if dept_id is not None:
            dept = session.get(Department, dept_id) if isinstance(dept_id, int) else None
            # The department it names now may stay even if inactive; a new one must be active.
            if dept is None or (not dept.active and dept_id != current):
                raise ValidationFailed(f"no active department with id {dept_id}", field="responsible_department_id")
        out["responsible_department_id"] = dept_id
    if "default_tier" in values:
        out["default_tier"] = rec.check_choice(values["default_tier"] or "general", TIERS, "default_tier")
    return out


def create_category(session: Session, actor: Actor, *, code: str, name: str, **values: Any) -> rec.Saved:
    """A new active category (admin) with the fields of :data:`EDITABLE`; ``ValidationFailed``
    naming the field. Ledgered ``create_category``; commits."""
    with rec.creating(session, actor, KIND, Category, code) as (role, code):
        checked = _values(session, {"name": name, **values})
        cat = Category(code=code, active=True, **{"field": "", "in_scope": True, "default_tier": "general", **checked})
        session.add(cat)
        rec.record_change(session, actor, role, KIND, cat, "create_category", {
            "code": code, "name": cat.name, "field": cat.field, "in_scope": cat.in_scope,
            "responsible_department_id": cat.responsible_department_id, "default_tier": cat.default_tier})
    return rec.Saved(cat)


def update_category(session: Session, actor: Actor, category_id: int, values: Mapping[str, Any]) -> rec.Saved:
    """Change the fields of :data:`EDITABLE` that ``values`` gives (admin; the code stays). A new
    responsible department gets the category's work dispatched from then on. Ledgered
    ``update_category`` with each change; commits."""
    with rec.changing(session, actor, KIND, Category, category_id, "update_category") as (role, cat):
        changes = rec.apply(cat, _values(session, values, current=cat.responsible_department_id))
        if changes:
            rec.record_change(session, actor, role, KIND, cat, "update_category", {"code": cat.code, "changes": changes})
    return rec.Saved(cat, changes)


def set_category_active(session: Session, actor: Actor, category_id: int, active: bool) -> rec.Saved:
    """Deactivate (or reactivate) a category (admin). Reactivating one whose responsible department
    is inactive warns. Ledgered; commits."""
    with rec.changing(session, actor, KIND, Category, category_id, "set_category_active") as (role, cat):
        trigger = rec.active_change(cat, active, KIND)
        warnings = []
        dept = session.get(Department, cat.responsible_department_id) if cat.responsible_department_id else None
        if active and dept is not None and not dept.active:
            warnings.append((f"责任部门 {dept.name} 已停用，请改派责任部门。",
                             f"Its responsible department {dept.name} is inactive: choose another."))
        rec.record_change(session, actor, role, KIND, cat, trigger, {"code": cat.code})
    return rec.Saved(cat, {"active": [not active, active]}, warnings)
