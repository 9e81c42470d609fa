"""A unit's request to transfer an instruction (申请移交), the instruction's counterpart of a case's
return request (申请退单, issue #6 item 5).

A unit that finds an instruction is not its own (``kind: other_unit``, with a suggested unit) or
not the bureau's at all (``kind: not_bureau``) asks the liaison, with a reason and a legal or
policy basis (a :class:`~caseflow.models.Regulation` or free text, the same rule as a case's
return request). The liaison decides: ``transfer`` (移交) to another unit, ``report_not_ours``
(the liaison explains to 110), or ``reject_transfer`` with a reason. The instruction's state
and its arrival deadline do not change while the request waits: an emergency unit keeps going.

The requests live in the instruction's ``data['transfer_requests']`` (a list, newest last; at
most one open); each step's ledger entry names the requesting department, which is how the
returns report counts them. Actions only touch the item, the session and the ledger entry.
"""
from __future__ import annotations

from typing import Any

from caseflow.errors import ValidationFailed
from caseflow.models import Department, Instruction
from caseflow.services.active_records import require_active

from .context import TransitionContext
from .registry import action, guard

RECORD = "transfer_requests"
KINDS = ("other_unit", "not_bureau")
MAX_TEXT = 4000


def requests_of(item: Any) -> list[dict[str, Any]]:
    """The instruction's transfer requests, oldest first."""
    return list((getattr(item, "data", None) or {}).get(RECORD) or [])


def open_request(item: Any) -> dict[str, Any] | None:
    """The request still waiting for the liaison, if any (only the newest can be open)."""
    reqs = requests_of(item)
    return reqs[-1] if reqs and reqs[-1].get("state") == "open" else None


def _text(ctx: TransitionContext, name: str) -> str:
    text = str(ctx.data.get(name) or "").strip()
    if len(text) > MAX_TEXT:
        raise ValidationFailed(f"{name} is longer than {MAX_TEXT} characters", field=name)
    return text


def _close(item: Instruction, ctx: TransitionContext, state: str, **facts: Any) -> dict[str, Any] | None:
    """Close the open request with ``state`` (and facts); the ledger entry names its department."""
    reqs = requests_of(item)
    if not reqs or reqs[-1].get("state") != "open":
        return None
    closed = {**reqs[-1], "state": state, "decided_at": ctx.now.isoformat(), "decided_by_id": ctx.actor.person_id,
              "decided_role": ctx.role, **facts}
    reqs[-1] = closed
    item.set_record(RECORD, reqs)
    ctx.ledger_extra.update(transfer_request_no=len(reqs), transfer_request_state=state,
                            requesting_department_id=closed.get("department_id"))
    return closed


@guard("transfer_request_open")
def transfer_request_open(item: object, ctx: TransitionContext) -> bool:
    """A unit's transfer request is waiting for the liaison's decision."""
    return open_request(item) is not None


@guard("not_bureau_request_open")
def not_bureau_request_open(item: object, ctx: TransitionContext) -> bool:
    """The waiting request says the instruction is not the bureau's at all."""
    req = open_request(item)
    return req is not None and req.get("kind") == "not_bureau"


@action("record_transfer_request")
def record_transfer_request(item: Instruction, ctx: TransitionContext) -> None:
    """The unit's request: kind, reason, basis (regulation or text), suggested unit, who and when."""
    from caseflow.services.returns import resolve_basis

    kind = str(ctx.data.get("kind") or "other_unit")
    if kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}", field="kind")
    reason = _text(ctx, "reason")
    basis_kind, basis, ref_id = resolve_basis(ctx.session, ctx.data.get("basis"), ctx.data.get("basis_ref_id"))
    suggested = ctx.data.get("suggested_department_id")
    if suggested in (None, ""):
        suggested = None
    else:
        try:
            suggested = int(suggested)
        except (TypeError, ValueError):
            raise ValidationFailed("suggested_department_id must be a department's id",
                                   field="suggested_department_id") from None
        dept = ctx.session.get(Department, suggested)
        if dept is None:
            raise ValidationFailed(f"department {suggested} does not exist", field="suggested_department_id")
        require_active(dept, "suggested_department_id")
        if suggested == item.department_id:
            raise ValidationFailed("suggest another unit than the one holding the instruction",
                                   field="suggested_department_id")
    reqs = requests_of(item)
    reqs.append({"kind": kind, "reason": reason, "basis_kind": basis_kind, "basis": basis, "basis_ref_id": ref_id,
                 "suggested_department_id": suggested, "department_id": item.department_id,
                 "requested_by_id": ctx.actor.person_id, "at": ctx.now.isoformat(), "state": "open"})
    item.set_record(RECORD, reqs)
    ctx.ledger_extra.update(transfer_request_no=len(reqs), requesting_department_id=item.department_id,
                            basis_kind=basis_kind, basis_ref_id=ref_id, kind=kind)


@action("record_transfer_rejection")
def record_transfer_rejection(item: Instruction, ctx: TransitionContext) -> None:
    """The liaison rejects the request with a reason: the unit keeps the instruction."""
    _close(item, ctx, "rejected", decision_reason=_text(ctx, "reason"))


@action("record_transfer_withdrawal")
def record_transfer_withdrawal(item: Instruction, ctx: TransitionContext) -> None:
    """The unit withdraws its waiting request."""
    _close(item, ctx, "withdrawn")


@action("settle_transfer_request")
def settle_transfer_request(item: Instruction, ctx: TransitionContext) -> None:
    """A transfer or a not-ours report ends a waiting request: approved when the liaison did it
    (runs before ``assign_department``, so the request keeps the unit that asked); closed as
    ``superseded`` when the unit itself reported not-ours on site."""
    if ctx.trigger == "transfer":
        facts: dict[str, Any] = {"outcome": "transferred", "to_department_id": _int(ctx.data.get("department_id"))}
    else:
        facts = {"outcome": "not_ours"}
    _close(item, ctx, "approved" if ctx.role == "liaison" else "superseded", **facts)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
