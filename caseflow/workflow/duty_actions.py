"""Guards and actions of the duty watch: handover checklist items and roll-call answers."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from caseflow.errors import ValidationFailed
from caseflow.models import DutyShift, HandoverItem

from .context import TransitionContext
from .registry import action, guard


def _shift_lead(ctx: TransitionContext, shift_id: int | None) -> int | None:
    if shift_id is None:
        return None
    return ctx.session.execute(select(DutyShift.lead_id).where(DutyShift.id == shift_id)).scalar_one_or_none()


@guard("actor_is_outgoing_lead")
def actor_is_outgoing_lead(item: Any, ctx: TransitionContext) -> bool:
    """Only the outgoing shift's lead prepares the handover."""
    return ctx.actor.person_id is not None and ctx.actor.person_id == _shift_lead(ctx, item.outgoing_shift_id)


@guard("actor_is_incoming_lead")
def actor_is_incoming_lead(item: Any, ctx: TransitionContext) -> bool:
    """Only the incoming shift's lead reviews and accepts the handover."""
    return ctx.actor.person_id is not None and ctx.actor.person_id == _shift_lead(ctx, item.incoming_shift_id)


@guard("all_handover_items_accepted")
def all_handover_items_accepted(item: Any, ctx: TransitionContext) -> bool:
    """A handover completes only when the incoming lead has accepted every item."""
    open_count = ctx.session.execute(
        select(func.count()).select_from(HandoverItem).where(
            HandoverItem.handover_id == item.id, HandoverItem.status != "accepted"
        )
    ).scalar_one()
    return open_count == 0


def _handover_item(item: Any, ctx: TransitionContext) -> HandoverItem:
    raw = ctx.data.get("item_id")
    try:
        item_id = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationFailed("item_id must be a handover item's id", field="item_id") from None
    row = ctx.session.get(HandoverItem, item_id)
    if row is None or row.handover_id != item.id:
        raise ValidationFailed(f"handover {item.id} has no item {item_id}", field="item_id")
    return row


@action("note_handover")
def note_handover(item: Any, ctx: TransitionContext) -> None:
    """The outgoing lead's note: on one item when ``item_id`` is given, else on the handover."""
    note = str(ctx.data["note"]).strip()
    if ctx.data.get("item_id") not in (None, ""):
        row = _handover_item(item, ctx)
        row.note = note
        if row.status == "disputed":
            # The outgoing lead answered the dispute; the item goes back to the incoming lead.
            row.status = "pending"
        ctx.ledger_extra["item_status"] = row.status
        return
    data = dict(item.data or {})
    data["notes"] = [*data.get("notes", []), {"at": ctx.now.isoformat(), "by": ctx.actor.person_id, "note": note}]
    item.data = data


def _review(item: Any, ctx: TransitionContext, status: str) -> None:
    row = _handover_item(item, ctx)
    row.status = status
    row.review_note = str(ctx.data.get("note") or "").strip()
    row.reviewed_by_id = ctx.actor.person_id
    row.reviewed_at = ctx.now
    ctx.ledger_extra.update({"kind": row.kind, "ref_type": row.ref_type, "ref_id": row.ref_id})


@action("accept_handover_item")
def accept_handover_item(item: Any, ctx: TransitionContext) -> None:
    """The incoming lead takes over one open item."""
    _review(item, ctx, "accepted")


@action("dispute_handover_item")
def dispute_handover_item(item: Any, ctx: TransitionContext) -> None:
    """The incoming lead disputes one item with a note; the outgoing lead must answer it."""
    _review(item, ctx, "disputed")


@action("record_roll_call_answer")
def record_roll_call_answer(item: Any, ctx: TransitionContext) -> None:
    """Stamp who answered the roll call and when on its log entry."""
    entry = item.log_entry
    entry.answered_at = ctx.now
    entry.answered_by_id = ctx.actor.person_id
    ctx.ledger_extra["log_entry_id"] = entry.id
