"""Each role's landing page: what that role has on its plate today."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, render_template
from sqlalchemy import select, true

from caseflow.extensions import db
from caseflow.models import (
    ActionGroup,
    Category,
    Deadline,
    Department,
    Grid,
    Person,
    WorkflowItem,
    utcnow,
)
from caseflow.workflow.engine import get_catalog

from .guards import current_person, login_required, more_pages_for
from .i18n import current_language

bp = Blueprint("pages", __name__, template_folder="templates")
# The administrator's other pages, linked from /admin (each shown only to roles its route lets in).
ADMIN_TOOLS = ("admin_import.page", "returns_admin.report", "reports_console.index", "outbox_console.dead",
               "calendar_admin.page", "time_limits_admin.page")


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
    arrived_late: bool = False  # an instruction on site after its arrival deadline (迟到到场)

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
    """The live deadline of each item in its current state visit: ``prefer`` key first, else the soonest.

    An item that a fired deadline moved into its current state (``on_expiry: {trigger: ...}``, e.g.
    an instruction marked ``late`` when its arrival deadline fired) keeps that deadline while the
    state declares none of its own: it is there *because* it is overdue, and must show so.
    """
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
    carried: dict[int, Deadline] = {}
    for row in rows:
        seq = seqs.get(row.item_id)
        if seq != row.state_seq:
            # Armed by an earlier visit: only the fired row whose trigger began this visit counts.
            if (seq is not None and row.state_seq == seq - 1 and row.status == "fired"
                    and (row.on_expiry or {}).get("trigger")):
                carried.setdefault(row.item_id, row)
            continue
        held = out.get(row.item_id)
        if held is None or (prefer and row.key == prefer and held.key != prefer):
            out[row.item_id] = row
    for item_id, row in carried.items():
        out.setdefault(item_id, row)
    return out


def late_arrivals(items: list[Any]) -> set[int]:
    """Ids of the instructions among ``items`` that arrived after their (latest) arrival deadline."""
    arrived = {i.id: i.arrived_at for i in items if getattr(i, "item_type", None) == "instruction" and i.arrived_at}
    if not arrived:
        return set()
    latest: dict[int, Deadline] = {}
    rows = db.session.execute(select(Deadline).where(
        Deadline.item_type == "instruction", Deadline.key == "arrival", Deadline.item_id.in_(list(arrived)))).scalars()
    for row in rows:
        if row.item_id not in latest or row.id > latest[row.item_id].id:  # a transfer re-arms it
            latest[row.item_id] = row
    return {item_id for item_id, row in latest.items() if arrived[item_id] > row.due_at}


def rows_for(items: list[Any], prefer: str | None = None) -> list[Row]:
    """Items with their labels and live deadlines (and, for instructions, whether they arrived late)."""
    deadlines = current_deadlines(items, prefer)
    late = late_arrivals(items)
    return [Row(i, state_label(i), deadlines.get(i.id), i.id in late) for i in items]


@bp.get("/liaison")
@login_required(roles=["liaison"])
def liaison() -> str:
    """Instructions not yet closed, with the time left to each arrival deadline."""
    from .liaison import board_context  # the board and its actions live in liaison.py

    return render_template("liaison/board.html", **board_context())


@bp.get("/dispatch")
@login_required(roles=["dispatcher"])
def dispatch() -> str:
    """The review queue, cases to dispatch, checks, supervision and return requests."""
    from .dispatch import inbox_context  # the queues and their actions live in dispatch.py

    return render_template("dispatch/inbox.html", **inbox_context())


@bp.get("/handler")
@login_required(roles=["handler"])
def handler() -> str:
    """The open cases and instructions of the handler's own department, and nothing else."""
    from .handler import work_context  # each item's page and its actions live in handler.py

    return render_template("pages/handler.html", **work_context())


@bp.get("/duty")
@login_required(roles=["duty_lead", "duty_officer"])
def duty() -> str:
    """The shift on duty now (of the person's center when they have one), roll calls, the log form."""
    from .duty_pages import duty_context  # the handover pages live in duty_pages.py

    return render_template("pages/duty.html", **duty_context())


def overdue_deadlines(now: datetime, limit: int = 50) -> tuple[int, list[tuple[Deadline, WorkflowItem]]]:
    """Deadlines past due that still concern their item (one definition, shared with the API)."""
    from caseflow.services.overdue import overdue_deadlines as overdue

    return overdue(db.session(), now, limit)


@bp.get("/leader")
@login_required(roles=["leader"])
def leader() -> str:
    """Today's figures, open and overdue work, escalations to acknowledge, the map of open items."""
    from .leader import dashboard_context  # the dashboard and its actions live in leader.py

    return render_template("pages/leader.html", **dashboard_context())


@bp.get("/admin")
@login_required(roles=["admin"])
def admin() -> str:
    """Departments, people, categories and grids, and the workflow diagrams."""
    departments = list(db.session.execute(select(Department).order_by(Department.code)).scalars())
    groups = {g.department_id: g for g in db.session.execute(select(ActionGroup)).scalars()}
    people = list(db.session.execute(select(Person).order_by(Person.username)).scalars())
    categories = list(db.session.execute(select(Category).order_by(Category.code)).scalars())
    grids = list(db.session.execute(select(Grid).order_by(Grid.code)).scalars())
    person = current_person()
    tools = more_pages_for(person.roles if person else (), ADMIN_TOOLS)
    return render_template("pages/admin.html", departments=departments, groups=groups, people=people,
                           categories=categories, grids=grids, workflows=get_catalog().all(), tools=tools)
