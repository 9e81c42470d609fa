"""Guards and actions shared by several workflows."""
from __future__ import annotations

from sqlalchemy import select

from caseflow.errors import ValidationFailed
from caseflow.models import Department, Handover
from caseflow.services.active_records import require_active

from .context import TransitionContext
from .registry import action, guard


@action("assign_department")
def assign_department(item: object, ctx: TransitionContext) -> None:
    """Hand the item to ``data['department_id']`` (which must exist and be active)."""
    raw = ctx.data.get("department_id")
    try:
        dept_id = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationFailed("department_id must be a department's id", field="department_id") from None
    # No autoflush: the department's row does not depend on the item's pending state change,
    # which then goes out in the transition's one flush instead of an UPDATE of its own here.
    with ctx.session.no_autoflush:
        dept = ctx.session.get(Department, dept_id)
    if dept is None:
        raise ValidationFailed(f"department {dept_id} does not exist", field="department_id")
    # Every dispatch, second dispatch, approved return, joint handling and transfer comes here.
    require_active(dept, "department_id")
    previous = getattr(item, "department_id", None)
    item.department_id = dept_id  # type: ignore[attr-defined]
    ctx.ledger_extra["previous_department_id"] = previous


def _stamp(field: str):  # type: ignore[no-untyped-def]
    def stamp(item: object, ctx: TransitionContext) -> None:
        setattr(item, field, ctx.now)

    stamp.__doc__ = f"Record the transition time as ``{field}``."
    return stamp


for _field in ("signed_at", "dispatched_at", "arrived_at", "closed_at"):
    action(f"stamp_{_field}")(_stamp(_field))


@action("count_rework")
def count_rework(item: object, ctx: TransitionContext) -> None:
    """A failed check sends the item back for rework (返工); keep the count."""
    data = dict(item.data or {})  # type: ignore[attr-defined]
    data["rework_count"] = int(data.get("rework_count", 0)) + 1
    item.data = data  # type: ignore[attr-defined]
    ctx.ledger_extra["rework_count"] = data["rework_count"]


@guard("handover_completed")
def handover_completed(item: object, ctx: TransitionContext) -> bool:
    """A shift closes only after its handover has been accepted by the incoming lead."""
    state = ctx.session.execute(
        select(Handover.state).where(Handover.outgoing_shift_id == item.id)  # type: ignore[attr-defined]
    ).scalar_one_or_none()
    return state == "completed"
