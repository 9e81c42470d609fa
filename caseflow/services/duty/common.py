"""Helpers shared by the duty-watch services: roles, local time, shifts, pinned deadlines."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from caseflow.deadlines.scheduling import schedule_deadline
from caseflow.effects import Effects
from caseflow.errors import PermissionDenied, ValidationFailed
from caseflow.models import Deadline, DutyShift, WorkflowItem
from caseflow.security.actor import Actor
from caseflow.services import ledger

from .settings import setting, shift_start

DUTY_ROLES = ("duty_lead", "duty_officer")
ON_DUTY_STATES = ("on_duty", "handing_over")


def tz() -> ZoneInfo:
    """The center's time zone (Asia/Shanghai by default)."""
    return ZoneInfo(str(setting("TIMEZONE")))


def shift_bounds(day: date) -> tuple[datetime, datetime]:
    """UTC start and end of the shift that starts on local ``day`` (08:30 to 08:30 next day)."""
    start = datetime.combine(day, shift_start(), tzinfo=tz())
    end = datetime.combine(day + timedelta(days=1), shift_start(), tzinfo=tz())
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def local(t: datetime | None) -> str:
    """``2024-05-01 08:30`` in the center's time zone, for messages and pages."""
    return t.astimezone(tz()).strftime("%Y-%m-%d %H:%M") if t else ""


def require_role(actor: Actor, roles: tuple[str, ...], what: str) -> str:
    """The first of ``roles`` the actor holds; ``PermissionDenied`` naming ``what`` otherwise."""
    for role in roles:
        if role in actor.roles:
            return role
    raise PermissionDenied(f"{what} needs one of the roles {', '.join(roles)}")


def as_int(value: Any, field: str) -> int:
    """An id from input, or ``ValidationFailed`` naming the field."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{field} must be an id", field=field) from None


def current_shift(session: Session, center_id: int) -> DutyShift | None:
    """The center's shift on duty now (during a handover: the outgoing one)."""
    return session.execute(
        select(DutyShift).where(DutyShift.center_id == center_id, DutyShift.state.in_(ON_DUTY_STATES))
        .order_by(DutyShift.starts_at).limit(1)
    ).scalar_one_or_none()


def ledger_note(session: Session, item: WorkflowItem, trigger: str, actor: Actor, role: str, at: datetime,
                payload: dict[str, Any], comment: str = "") -> None:
    """Ledger a change that is not a state change (rota edits); the caller holds the item's lock."""
    ledger.append(
        session, item_type=item.item_type, item_id=item.id, trigger=trigger, actor=actor, role=role, at=at,
        from_state=item.state, to_state=item.state, workflow=item.workflow,
        workflow_version=item.workflow_version, payload=payload, comment=comment,
    )


def pin_deadline(session: Session, item: WorkflowItem, key: str, due_at: datetime, effects: Effects) -> int:
    """Move the pending ``key`` deadline armed by the item's current state visit to ``due_at``.

    Used where a due time is a wall-clock instant (08:30 + grace), not a duration from the
    state entry; the RQ job is re-scheduled after commit under the same job id.
    """
    ids = list(session.execute(
        select(Deadline.id).where(
            Deadline.item_type == item.item_type, Deadline.item_id == item.id, Deadline.key == key,
            Deadline.state_seq == item.state_seq, Deadline.status == "pending",
        )
    ).scalars())
    if ids:
        session.execute(
            update(Deadline).where(Deadline.id.in_(ids)).values(due_at=due_at)
            .execution_options(synchronize_session=False)
        )
        for deadline_id in ids:
            effects.add(f"re-schedule deadline {key}", schedule_deadline, deadline_id, due_at)
    return len(ids)
