"""Guards and actions of the emergency-linkage instruction workflow (seed 001 篇三).

Actions only change the instruction, the session and the ledger entry's extra facts; messages
to people and to 110 are queued by ``caseflow.services.instructions`` in the same transaction.
"""
from __future__ import annotations

from typing import Any

from caseflow.errors import ValidationFailed
from caseflow.models import Category, Department, Instruction

from .context import TransitionContext
from .registry import action, guard

REPORTABLE_SEVERITIES = ("larger", "major")


def _category(item: Any, ctx: TransitionContext) -> Category | None:
    cid = getattr(item, "category_id", None)
    return ctx.session.get(Category, cid) if cid else None


@guard("in_scope")
def in_scope(item: object, ctx: TransitionContext) -> bool:
    """The instruction's category is inside the bureau's acceptance scope (受理范围)."""
    cat = _category(item, ctx)
    return bool(cat is not None and cat.in_scope)


@guard("out_of_scope")
def out_of_scope(item: object, ctx: TransitionContext) -> bool:
    """The category is outside the acceptance scope, so the instruction may be declined."""
    cat = _category(item, ctx)
    return cat is None or not cat.in_scope


@guard("severity_major")
def severity_major(item: object, ctx: TransitionContext) -> bool:
    """A major event (重大事件): only then does the deputy report to the principal leader."""
    return getattr(item, "severity", "") == "major"


def _stamp(ctx: TransitionContext) -> str:
    return ctx.now.isoformat()


@action("record_decline")
def record_decline(item: Instruction, ctx: TransitionContext) -> None:
    """Keep the explanation given to 110 on the spot."""
    item.set_record("decline_explanation", str(ctx.data["explanation"]))
    item.set_record("declined_at", _stamp(ctx))


@action("record_route")
def record_route(item: Instruction, ctx: TransitionContext) -> None:
    """Unit or action group: taken from the routing decision, or decided now when fired directly."""
    if "to_action_group" in ctx.data:
        to_group = bool(ctx.data["to_action_group"])
        reason = str(ctx.data.get("route_reason", ""))
    else:
        from caseflow.services import routing

        dept = ctx.session.get(Department, item.department_id)
        route = routing.route_for(ctx.session, item, ctx.now, department=dept)
        to_group, reason = route.to_action_group, route.reason
    item.to_action_group = to_group
    item.set_record("route", {"department_id": item.department_id, "to_action_group": to_group,
                              "reason": reason, "at": _stamp(ctx)})
    ctx.ledger_extra["to_action_group"] = to_group


@action("record_late_reason")
def record_late_reason(item: Instruction, ctx: TransitionContext) -> None:
    """The unit's reason for not making the arrival deadline (relayed to 110)."""
    item.set_record("late_reason", str(ctx.data["reason"]))


@action("record_arrival")
def record_arrival(item: Instruction, ctx: TransitionContext) -> None:
    """The basic situation on site and, when given, the exact place."""
    item.set_record("situation", str(ctx.data["situation"]))
    if ctx.data.get("place"):
        item.set_record("place", str(ctx.data["place"]))


@action("record_not_ours")
def record_not_ours(item: Instruction, ctx: TransitionContext) -> None:
    """On-site confirmation says the event is not the bureau's."""
    item.set_record("not_ours", {"explanation": str(ctx.data["explanation"]), "at": _stamp(ctx)})


@action("record_keep_order")
def record_keep_order(item: Instruction, ctx: TransitionContext) -> None:
    """The unit keeps order until the responsible party arrives (维护好现场秩序)."""
    item.append_record("keep_order", {"note": str(ctx.data["note"]), "at": _stamp(ctx),
                                      "responsible_arrived": bool(ctx.data.get("responsible_arrived"))})


@action("record_severity_report")
def record_severity_report(item: Instruction, ctx: TransitionContext) -> None:
    """A larger or major event reported to the deputy leader in charge, with the time."""
    severity = str(ctx.data["severity"])
    if severity not in REPORTABLE_SEVERITIES:
        raise ValidationFailed(f"severity must be one of {', '.join(REPORTABLE_SEVERITIES)}", field="severity")
    from caseflow.services import routing

    dept = ctx.session.get(Department, item.department_id) if item.department_id else None
    deputy = routing.deputy_for(ctx.session, _category(item, ctx), dept.center_id if dept else None)
    item.severity = severity
    item.append_record("severity_reports", {"severity": severity, "to": "deputy_in_charge",
                                            "person_id": deputy.id if deputy else None, "at": _stamp(ctx)})
    ctx.ledger_extra.update(reported_to="deputy_in_charge", reported_to_person_id=deputy.id if deputy else None)


@action("record_principal_report")
def record_principal_report(item: Instruction, ctx: TransitionContext) -> None:
    """The deputy leader reports a major event on to the principal leader, with the time."""
    from caseflow.services import routing

    dept = ctx.session.get(Department, item.department_id) if item.department_id else None
    principal = routing.principal_for(ctx.session, dept.center_id if dept else None)
    item.append_record("severity_reports", {"severity": item.severity, "to": "principal",
                                            "person_id": principal.id if principal else None,
                                            "by_person_id": ctx.actor.person_id, "at": _stamp(ctx)})
    ctx.ledger_extra.update(reported_to="principal", reported_to_person_id=principal.id if principal else None)


@action("record_result")
def record_result(item: Instruction, ctx: TransitionContext) -> None:
    """What was done (处置情况)."""
    item.set_record("result", str(ctx.data["result"]))
    if ctx.data.get("place"):
        item.set_record("place", str(ctx.data["place"]))


@action("record_follow_up")
def record_follow_up(item: Instruction, ctx: TransitionContext) -> None:
    """It cannot be finished on the spot: what follows (后续处理)."""
    item.set_record("follow_up", str(ctx.data["explanation"]))


@action("record_transfer")
def record_transfer(item: Instruction, ctx: TransitionContext) -> None:
    """A transfer (移交): both sides and the reason; runs before ``assign_department``."""
    try:
        to_id = int(ctx.data["department_id"])
    except (TypeError, ValueError):
        raise ValidationFailed("department_id must be a department's id", field="department_id") from None
    if to_id == item.department_id:
        raise ValidationFailed("the instruction is already with that unit", field="department_id")
    item.append_record("transfers", {"from_department_id": item.department_id, "to_department_id": to_id,
                                     "reason": str(ctx.data["reason"]), "at": _stamp(ctx)})
    ctx.ledger_extra.update(from_department_id=item.department_id, to_department_id=to_id)


# The sign alarm's delay is a setting: importing the module registers its clock hook.
from caseflow.services import instruction_sign_alarm as _sign_alarm  # noqa: E402,F401
