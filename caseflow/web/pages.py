"""Each role's landing page: what that role has on its plate today."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, render_template
from sqlalchemy import and_, func, select, true

from caseflow.extensions import db
from caseflow.models import (
    ITEM_MODELS,
    ActionGroup,
    Case,
    Category,
    Deadline,
    Department,
    DutyShift,
    Grid,
    Instruction,
    Person,
    WorkflowItem,
    utcnow,
)
from caseflow.workflow.engine import get_catalog

from .guards import current_person, login_required
from .i18n import current_language

bp = Blueprint("pages", __name__, template_folder="templates")


@bp.errorhandler(403)
def forbidden(_exc: Exception) -> tuple[str, int]:
    """A page of another role: the HTML 403 (the API keeps its JSON errors)."""
    return render_template("403.html"), 403


@dataclass
class Row:
    """One item as a page shows it."""

    item: Any
    state_label: str
    deadline: Deadline | None = None

    @property
    def seconds_left(self) -> float | None:
        """Seconds to the deadline (negative when overdue)."""
        if self.deadline is None:
            return None
        return (self.deadline.due_at - utcnow()).total_seconds()

    @property
    def risk(self) -> str:
        """``overdue`` / ``soon`` (under 10 minutes) / ``ok`` for colouring."""
        left = self.seconds_left
        if left is None:
            return "ok"
        return "overdue" if left <= 0 else ("soon" if left < 600 else "ok")


def final_states(item_type: str) -> set[str]:
    """Names of final states across every loaded workflow driving ``item_type``."""
    return {s.name for d in get_catalog().all() if d.item == item_type for s in d.states.values() if s.final}


def open_filter(model: type[WorkflowItem]) -> Any:
    """A WHERE clause: the item is not in a final state."""
    finals = final_states(model.item_type)
    return model.state.notin_(finals) if finals else true()


def state_label(item: WorkflowItem) -> str:
    """The item's state in the page's language."""
    try:
        return get_catalog().definition(item.workflow, item.workflow_version).label(item.state, current_language())
    except KeyError:
        return item.state


def current_deadlines(items: list[WorkflowItem], prefer: str | None = None) -> dict[int, Deadline]:
    """The live deadline of each item in its current state visit: ``prefer`` key first, else the soonest."""
    if not items:
        return {}
    item_type = items[0].item_type
    seqs = {i.id: i.state_seq for i in items}
    rows = db.session.execute(
        select(Deadline).where(Deadline.item_type == item_type, Deadline.item_id.in_(list(seqs)),
                               Deadline.status.in_(("pending", "paused", "fired")))
        .order_by(Deadline.due_at)
    ).scalars()
    out: dict[int, Deadline] = {}
    for row in rows:
        if seqs.get(row.item_id) != row.state_seq:
            continue  # armed by an earlier visit of the state
        held = out.get(row.item_id)
        if held is None or (prefer and row.key == prefer and held.key != prefer):
            out[row.item_id] = row
    return out


def rows_for(items: list[Any], prefer: str | None = None) -> list[Row]:
    """Items with their labels and live deadlines."""
    deadlines = current_deadlines(items, prefer)
    return [Row(i, state_label(i), deadlines.get(i.id)) for i in items]


@bp.get("/liaison")
@login_required(roles=["liaison"])
def liaison() -> str:
    """Instructions not yet closed, with the time left to each arrival deadline."""
    items = list(db.session.execute(
        select(Instruction).where(open_filter(Instruction)).order_by(Instruction.received_at.desc()).limit(200)
    ).scalars())
    rows = rows_for(items, prefer="arrival")
    rows.sort(key=lambda r: (r.seconds_left is None, r.seconds_left or 0))
    return render_template("pages/liaison.html", rows=rows)


@bp.get("/dispatch")
@login_required(roles=["dispatcher"])
def dispatch() -> str:
    """Cases waiting for review (reported) or for a check of their result (checking)."""
    items = list(db.session.execute(
        select(Case).where(Case.state.in_(("reported", "checking"))).order_by(Case.reported_at.desc()).limit(200)
    ).scalars())
    return render_template("pages/dispatch.html", rows=rows_for(items))


@bp.get("/handler")
@login_required(roles=["handler"])
def handler() -> str:
    """The open cases and instructions of the handler's own department, and nothing else."""
    person = current_person()
    dept_id = person.department_id if person else None
    cases: list[Row] = []
    instructions: list[Row] = []
    if dept_id is not None:
        cases = rows_for(list(db.session.execute(
            select(Case).where(Case.department_id == dept_id, open_filter(Case))
            .order_by(Case.reported_at.desc()).limit(200)
        ).scalars()))
        instructions = rows_for(list(db.session.execute(
            select(Instruction).where(Instruction.department_id == dept_id, open_filter(Instruction))
            .order_by(Instruction.received_at.desc()).limit(200)
        ).scalars()), prefer="arrival")
    department = db.session.get(Department, dept_id) if dept_id else None
    return render_template("pages/handler.html", cases=cases, instructions=instructions, department=department)


@bp.get("/duty")
@login_required(roles=["duty_lead", "duty_officer"])
def duty() -> str:
    """The shift on duty now (of the person's center when they have one)."""
    person = current_person()
    query = select(DutyShift).where(DutyShift.state.in_(("on_duty", "handing_over")))
    if person is not None and person.center_id is not None:
        query = query.where(DutyShift.center_id == person.center_id)
    shift = db.session.execute(query.order_by(DutyShift.starts_at.desc()).limit(1)).scalar_one_or_none()
    return render_template("pages/duty.html", shift=shift, shift_label=state_label(shift) if shift else "")


def overdue_deadlines(now: datetime, limit: int = 50) -> tuple[int, list[tuple[Deadline, WorkflowItem]]]:
    """Deadlines past due whose item is still in the state visit that armed them."""
    total = 0
    listed: list[tuple[Deadline, WorkflowItem]] = []
    for item_type, model in ITEM_MODELS.items():
        cond = and_(Deadline.item_type == item_type, Deadline.item_id == model.id,
                    Deadline.state_seq == model.state_seq, Deadline.status.in_(("pending", "fired")),
                    Deadline.due_at <= now)
        total += int(db.session.execute(select(func.count(Deadline.id)).join(model, cond)).scalar() or 0)
        listed += [(row[0], row[1]) for row in db.session.execute(
            select(Deadline, model).join(model, cond).order_by(Deadline.due_at).limit(limit)
        )]
    listed.sort(key=lambda pair: pair[0].due_at)
    return total, listed[:limit]


@bp.get("/leader")
@login_required(roles=["leader"])
def leader() -> str:
    """Counts of open items per kind and the overdue deadlines."""
    now = utcnow()
    counts = []
    for item_type, model in ITEM_MODELS.items():
        n = db.session.execute(select(func.count(model.id)).where(open_filter(model))).scalar() or 0
        counts.append((item_type, int(n)))
    total, overdue = overdue_deadlines(now)
    overdue_rows = [(d, item, state_label(item), (now - d.due_at).total_seconds()) for d, item in overdue]
    return render_template("pages/leader.html", counts=counts, overdue_total=total, overdue=overdue_rows)


@bp.get("/admin")
@login_required(roles=["admin"])
def admin() -> str:
    """Departments, people, categories and grids, and the workflow diagrams."""
    departments = list(db.session.execute(select(Department).order_by(Department.code)).scalars())
    groups = {g.department_id: g for g in db.session.execute(select(ActionGroup)).scalars()}
    people = list(db.session.execute(select(Person).order_by(Person.username)).scalars())
    categories = list(db.session.execute(select(Category).order_by(Category.code)).scalars())
    grids = list(db.session.execute(select(Grid).order_by(Grid.code)).scalars())
    return render_template("pages/admin.html", departments=departments, groups=groups, people=people,
                           categories=categories, grids=grids, workflows=get_catalog().all())
