"""The handover checklist's open items, found from the data itself in a fixed number of queries.

Each kind is one query whatever the number of rows: the center an item belongs to is worked out
in SQL (:mod:`caseflow.deadlines.item_centers`), so a center with a thousand running deadlines
costs the same six queries as one with none.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, union_all
from sqlalchemy.orm import Session

from caseflow.deadlines.item_centers import in_center, with_center
from caseflow.models import ITEM_MODELS, Case, Deadline, DutyLogEntry, DutyShift, Instruction, ReturnRequest
from caseflow.models.duty import HANDOVER_ITEM_KINDS
from caseflow.services.returns import OPEN_STATES as RETURN_OPEN_STATES
from caseflow.workflow.engine import WorkflowCatalog

from .common import local

# Items whose own deadlines the handover lists under their parents, not as deadlines.
DUTY_ITEM_TYPES = ("duty_shift", "handover", "roll_call")
CASE_REVIEW_STATES = ("reported", "checking")
KIND_LABELS = {
    "instruction": "未办结指令", "deadline": "时限", "case_review": "待核实/核查案件", "return_request": "待审退单",
    "urgent_document": "未办结紧急公文", "roll_call": "未应答点名", "flagged_entry": "标记的值班记录",
}


@dataclass
class OpenItem:
    """One open item found for the handover."""

    kind: str
    ref_type: str
    ref_id: int
    summary: str


def final_states(session: Session, catalog: WorkflowCatalog, model: Any) -> set[str]:
    """The final states of every workflow version ``model``'s items run on."""
    finals: set[str] = set()
    for name, version in session.execute(select(model.workflow, model.workflow_version).distinct()).all():
        d = catalog.definition(name, version)
        finals |= {s.name for s in d.states.values() if s.final}
    return finals


def _deadline_ids(shift: DutyShift, center_id: int) -> Any:
    """One UNION of the ids of the center's pending deadlines and those missed in this shift,
    one branch per item type (the join places the item in its center)."""
    status = or_(Deadline.status == "pending", and_(Deadline.status == "fired", Deadline.fired_at >= shift.starts_at))
    branches = []
    for item_type, model in sorted(ITEM_MODELS.items()):
        if item_type in DUTY_ITEM_TYPES:
            continue
        query = select(Deadline.id).join(model, and_(Deadline.item_type == item_type, model.id == Deadline.item_id))
        query, center = with_center(query, model)
        branches.append(query.where(status, in_center(center, center_id)))
    return union_all(*branches).subquery()


def find_open_items(session: Session, catalog: WorkflowCatalog, shift: DutyShift,
                    now: datetime | None = None) -> list[OpenItem]:
    """Every open item the incoming shift must take over, in kind order, in six queries."""
    del now  # kept for callers; what is open is read from the data, not the clock
    center_id = shift.center_id
    found: list[OpenItem] = []
    finals = final_states(session, catalog, Instruction)
    query, center = with_center(select(Instruction), Instruction)
    for i in session.execute(query.where(Instruction.state.not_in(finals or {""}), in_center(center, center_id))
                             .order_by(Instruction.id)).scalars():
        found.append(OpenItem("instruction", "instruction", i.id, f"指令 {i.number} ({i.state}) {i.address}".strip()))
    ids = _deadline_ids(shift, center_id)
    for d in session.execute(select(Deadline).where(Deadline.id.in_(select(ids.c.id)))
                             .order_by(Deadline.due_at, Deadline.id)).scalars():
        what = "已超时" if d.status == "fired" else "进行中"
        found.append(OpenItem("deadline", "deadline", d.id,
                              f"{d.item_type} {d.item_id} 时限 {d.key} {what}, 到期 {local(d.due_at)}"))
    for c in session.execute(select(Case).where(Case.state.in_(CASE_REVIEW_STATES),
                                                or_(Case.center_id == center_id, Case.center_id.is_(None)))
                             .order_by(Case.id)).scalars():
        found.append(OpenItem("case_review", "case", c.id, f"案件 {c.number} {c.title} ({c.state})"))
    # Every open request, awaiting the dispatcher (requested) or the leader (leader_review), of a
    # case of this center.
    query, center = with_center(select(ReturnRequest, Case.number).join(Case, Case.id == ReturnRequest.case_id), Case)
    for r, number in session.execute(query.where(ReturnRequest.state.in_(RETURN_OPEN_STATES),
                                                 in_center(center, center_id)).order_by(ReturnRequest.id)).all():
        what = "待领导审核" if r.state == "leader_review" else "待审核"
        found.append(OpenItem("return_request", "return_request", r.id, f"案件 {number} 退单申请 ({what}): {r.reason}"))
    entries = list(session.execute(select(DutyLogEntry).where(DutyLogEntry.center_id == center_id, or_(
        and_(DutyLogEntry.type == "urgent_document", DutyLogEntry.done_at.is_(None)),
        and_(DutyLogEntry.type == "roll_call", DutyLogEntry.answered_at.is_(None)),
        DutyLogEntry.flagged.is_(True))).order_by(DutyLogEntry.id)).scalars())
    for e in entries:
        if e.type == "urgent_document" and e.done_at is None:
            found.append(OpenItem("urgent_document", "duty_log_entry", e.id, f"紧急公文: {e.summary}"))
    for e in entries:
        if e.type == "roll_call" and e.answered_at is None:
            found.append(OpenItem("roll_call", "duty_log_entry", e.id, f"点名 {local(e.asked_at)} 未应答"))
    for e in entries:
        if e.flagged:
            found.append(OpenItem("flagged_entry", "duty_log_entry", e.id, f"{e.type}: {e.summary or e.asked}"))
    return found


def kind_order(kind: str) -> int:
    """A kind's place on the checklist (the order the kinds are collected in)."""
    return HANDOVER_ITEM_KINDS.index(kind) if kind in HANDOVER_ITEM_KINDS else len(HANDOVER_ITEM_KINDS)


def grouped(rows: list[Any]) -> list[tuple[str, list[Any]]]:
    """``rows`` (anything with a ``kind``) grouped by kind in checklist order, each group in the
    order given."""
    groups: dict[str, list[Any]] = {}
    for row in rows:
        groups.setdefault(row.kind, []).append(row)
    return sorted(groups.items(), key=lambda kv: kind_order(kv[0]))


__all__ = ["CASE_REVIEW_STATES", "DUTY_ITEM_TYPES", "KIND_LABELS", "OpenItem", "final_states", "find_open_items",
           "grouped", "kind_order"]
