"""Guards and actions of return requests (申请退单) and of the case steps they fire.

Every trigger here is fired only by :mod:`caseflow.services.returns` (guard
``via_return_service``): a return changes the request and the case in one transaction, so
firing one side bare through the generic items API must be impossible. Actions only touch
``ctx.session``, ``ctx.effects`` and ``ctx.ledger_extra`` (and the item).
"""
from __future__ import annotations

from typing import Any

from caseflow.deadlines.pausing import pause_running, resume_paused
from caseflow.errors import ValidationFailed

from .context import TransitionContext
from .registry import action, guard

# Passed in ``data`` by the returns service; JSON cannot forge the token object.
RETURN_MARKER = "_via_return_service"
RETURN_TOKEN = object()


def marked(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the service marker added (for ``transition.apply`` calls of the service)."""
    return {**data, RETURN_MARKER: RETURN_TOKEN}


def _set(item: Any, **changes: Any) -> dict[str, Any]:
    data = dict(item.data or {})
    data.update(changes)
    item.data = data
    return data


@guard("via_return_service")
def via_return_service(item: object, ctx: TransitionContext) -> bool:
    """Only the returns service fires this trigger (it changes the request and the case together)."""
    return ctx.data.get(RETURN_MARKER) is RETURN_TOKEN


@action("consume_return_marker")
def consume_return_marker(item: object, ctx: TransitionContext) -> None:
    """Drop the service marker before the data reaches the ledger."""
    ctx.data.pop(RETURN_MARKER, None)


@action("record_return_decision")
def record_return_decision(item: Any, ctx: TransitionContext) -> None:
    """Who decided the request, when and why (the service records where an approved case went)."""
    item.reviewer_id = ctx.actor.person_id
    item.decided_at = ctx.now
    item.decision_reason = str(ctx.data.get("reason") or "")
    ctx.ledger_extra["reviewer_role"] = ctx.role


@action("pause_for_return")
def pause_for_return(item: Any, ctx: TransitionContext) -> None:
    """A return request waits: the department's running limits pause (when configured)."""
    ctx.data.pop(RETURN_MARKER, None)
    paused = pause_running(ctx.session, item, ctx.now) if ctx.data.get("pause_clock") else []
    _set(item, return_pending={"return_request_id": ctx.data.get("return_request_id"),
                               "department_id": item.department_id, "at": ctx.now.isoformat(),
                               "paused": [p["deadline_id"] for p in paused]})
    ctx.ledger_extra["deadlines_paused"] = paused


@action("resume_after_return")
def resume_after_return(item: Any, ctx: TransitionContext) -> None:
    """The request was rejected or withdrawn: the limits it paused run again from now."""
    ctx.data.pop(RETURN_MARKER, None)
    pending = (item.data or {}).get("return_pending") or {}
    resumed = resume_paused(ctx.session, item, ctx.now, ctx.effects, only=pending.get("paused") or [])
    _set(item, return_pending=None)
    ctx.ledger_extra["deadlines_resumed"] = resumed


@action("record_return_approved")
def record_return_approved(item: Any, ctx: TransitionContext) -> None:
    """An approved return (runs after ``assign_department``): the first department's record shows
    the case as returned, not failed; the new department's limits start fresh on entering the state."""
    ctx.data.pop(RETURN_MARKER, None)
    previous = ctx.ledger_extra.get("previous_department_id")
    if previous == item.department_id:
        raise ValidationFailed("an approved return sends the case to another department", field="department_id")
    data = dict(item.data or {})
    data["returned_by"] = list(data.get("returned_by") or []) + [{
        "department_id": previous, "to_department_id": item.department_id,
        "return_request_id": ctx.data.get("return_request_id"), "at": ctx.now.isoformat(),
        "outcome": "returned",
    }]
    data["return_count"] = int(data.get("return_count", 0)) + 1
    data["return_pending"] = None
    data.pop("signed_at", None)  # the new department signs afresh
    item.data = data
    ctx.ledger_extra.update(returned_from_department_id=previous, outcome="returned")
