"""The liaison board (应急联动指令看板): open instructions with the time left to their deadlines,
coloured by risk, one-click sign / dispatch / relay to 110, and the intake form.

The board page itself is ``pages.liaison`` (/liaison); it renders :func:`board_context`. A
small script (static/board.js) re-reads the rows from ``board.json`` every 15 seconds and
ticks the countdowns every second from the server's ``due_at``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, jsonify, render_template, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from caseflow.errors import DomainError, NotFound, ValidationFailed
from caseflow.extensions import db
from caseflow.models import AREA_KINDS, SEVERITIES, Category, Deadline, Department, Instruction, utcnow
from caseflow.services import instructions as svc
from caseflow.services import linkage110
from caseflow.services.active_records import offered, offered_grids
from caseflow.workflow.engine import get_catalog
from caseflow.workflow.instruction_transfer_actions import open_request as open_transfer_request

from . import liaison_transfer
from .console_forms import new_form_token, submit_once
from .guards import login_required
from .i18n import t
from .work import attempt, back, describe, local_time, me, number, text

bp = Blueprint("liaison_console", __name__, url_prefix="/liaison")
bp.add_app_template_global(new_form_token, "form_token")  # the one-time token of the decision forms

ROLES = ["liaison"]
# Board actions: URL name -> trigger in the instruction workflow.
ACTIONS = {"sign": "sign", "dispatch": "dispatch", "decline": "decline", "report-to-110": "report_to_110"}


def risk_of(seconds_left: float | None, total_seconds: float | None) -> str:
    """``ok`` (more than half left), ``soon`` (amber), ``danger`` (under 20 % left) or ``overdue``."""
    if seconds_left is None:
        return "none"
    if seconds_left <= 0:
        return "overdue"
    share = seconds_left / total_seconds if total_seconds and total_seconds > 0 else 1.0
    if share > 0.5:
        return "ok"
    return "soon" if share >= 0.2 else "danger"


@dataclass
class BoardRow:
    """One instruction as the board shows it."""

    item: Instruction
    state_label: str
    deadline: Deadline | None
    now: datetime
    triggers: set[str] = field(default_factory=set)
    suggested_department_id: int | None = None
    arrived_late: bool = False  # on site after the arrival deadline (迟到到场)

    @property
    def seconds_left(self) -> float | None:
        """Seconds to the deadline at render time (negative when overdue)."""
        return None if self.deadline is None else (self.deadline.due_at - self.now).total_seconds()

    @property
    def total_seconds(self) -> float | None:
        """The deadline's whole length, from arming to due."""
        return None if self.deadline is None else (self.deadline.due_at - self.deadline.armed_at).total_seconds()

    @property
    def risk(self) -> str:
        """The colour class of the row."""
        return risk_of(self.seconds_left, self.total_seconds)

    @property
    def transfer_waiting(self) -> bool:
        """A unit's transfer request waits for the liaison (decided on the instruction's page)."""
        return open_transfer_request(self.item) is not None

    @property
    def in_scope(self) -> bool:
        """Whether the category is inside the acceptance scope (else it can only be declined)."""
        return bool(self.item.category and self.item.category.in_scope)


def _triggers(item: Instruction, roles: set[str]) -> set[str]:
    definition = get_catalog().definition(item.workflow, item.workflow_version)
    return {tr.trigger for tr in definition.triggers_from(item.state) if set(tr.roles) & roles}


def board_rows(roles: set[str]) -> list[BoardRow]:
    """Instructions not closed, soonest deadline first (overdue on top), then newest."""
    from .pages import current_deadlines, late_arrivals, open_filter, state_label

    items = list(db.session.execute(
        select(Instruction).where(open_filter(Instruction)).order_by(Instruction.received_at.desc()).limit(200)
    ).scalars())
    deadlines = current_deadlines(items, prefer="arrival")  # type: ignore[arg-type]
    late = late_arrivals(items)
    now = utcnow()
    rows = []
    for item in items:
        cat = item.category
        suggested = cat.responsible_department_id if cat is not None else None
        rows.append(BoardRow(item, state_label(item), deadlines.get(item.id), now, _triggers(item, roles), suggested,
                             item.id in late))
    rows.sort(key=lambda r: (r.seconds_left is None, r.seconds_left or 0))
    return rows


def board_context() -> dict[str, Any]:
    """Everything the board page and its refreshed rows need."""
    _, actor = me()
    session = db.session
    return {
        "rows": board_rows(set(actor.roles)),
        # New instructions go only to what is in use (caseflow/services/active_records.py).
        "departments": offered(session, Department),
        "categories": offered(session, Category),
        "grids": offered_grids(session),
        "severities": SEVERITIES,
        "area_kinds": AREA_KINDS,
        "server_now": utcnow(),
    }


@bp.get("/board.json")
@login_required(roles=ROLES)
def board_json() -> Response:
    """The board's rows, rendered, for the 15-second refresh; ``now`` keeps the countdown honest."""
    ctx = board_context()
    html = render_template("liaison/_rows.html", **ctx)
    return jsonify({"html": html, "count": len(ctx["rows"]), "now": ctx["server_now"].isoformat()})


def _instruction(item_id: int) -> Instruction:
    item = db.session.get(Instruction, item_id)
    if item is None:
        raise NotFound(f"instruction {item_id} not found")
    return item


@bp.get("/<int:item_id>")
@login_required(roles=ROLES)
def instruction(item_id: int) -> str:
    """One instruction: its facts, the time left, a unit's transfer request to decide (or a transfer
    on the liaison's own initiative) and every answer sent to 110 with its delivery."""
    from .pages import rows_for

    try:
        item = _instruction(item_id)
    except NotFound:
        abort(404)
    _, actor = me()
    row = rows_for([item], prefer="arrival")[0]
    total = None if row.deadline is None else (row.deadline.due_at - row.deadline.armed_at).total_seconds()
    answers = linkage110.answers_for(db.session(), item.id)
    return render_template("liaison/instruction.html", item=item, row=row, total=total, answers=answers,
                           **liaison_transfer.transfer_context(db.session(), item, _triggers(item, set(actor.roles))))


@bp.post("/<int:item_id>/<any(transfer, 'not-ours', 'reject-transfer'):action>")
@login_required(roles=ROLES)
def decide_transfer(item_id: int, action: str) -> Response:
    """Approve a unit's transfer request (transfer to another unit, or explain to 110 that it is not
    the bureau's), reject it with a reason, or transfer on the liaison's own initiative.

    Done once per form (a double submit does not repeat it); back to the instruction's page.
    """
    try:
        _instruction(item_id)
    except NotFound:
        abort(404)
    _, actor = me()
    return submit_once(lambda: liaison_transfer.decide(db.session(), item_id, action, actor),
                       t("flash.done.liaison." + action),
                       lambda _result: back("liaison_console.instruction", item_id=item_id),
                       liaison_transfer.labels(action))


@bp.post("/<int:item_id>/<any(sign, dispatch, decline, 'report-to-110'):action>")
@login_required(roles=ROLES)
def act(item_id: int, action: str) -> Response:
    """One step on an instruction from the board; the service decides and commits."""
    _, actor = me()
    session, catalog = db.session(), get_catalog()

    def call() -> Any:
        _instruction(item_id)
        comment = text("comment", max_len=2000)
        if action == "sign":
            return svc.sign(session, catalog, item_id, actor=actor, comment=comment)
        if action == "dispatch":
            return svc.dispatch(session, catalog, item_id, actor=actor,
                                department_id=number("department_id", required=True), comment=comment)
        if action == "decline":
            return svc.decline(session, catalog, item_id, actor=actor,
                               explanation=text("explanation", required=True))
        return svc.report_to_110(session, catalog, item_id, actor=actor, comment=comment)

    attempt(call, t("flash.done." + ACTIONS[action]))
    return back("pages.liaison")


def _float(name: str, low: float, high: float) -> float | None:
    """A decimal form field within [low, high]; ``ValidationFailed`` naming it otherwise."""
    raw = text(name, max_len=40)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a number", field=name) from None
    if not low <= value <= high:  # also refuses nan and inf
        raise ValidationFailed(f"{name} must be between {low:g} and {high:g}", field=name)
    return value


def _intake_fields() -> dict[str, Any]:
    """The intake form read and checked field by field (the service checks the rest)."""
    lat, lon = _float("lat", -90, 90), _float("lon", -180, 180)
    if (lat is None) != (lon is None):  # a location needs both; say which one is missing
        missing = "lon" if lon is None else "lat"
        raise ValidationFailed(f"{missing} is required with {'lat' if missing == 'lon' else 'lon'}", field=missing)
    return {
        "number": text("number", required=True, max_len=40), "category": text("category", required=True, max_len=40),
        "received_at": local_time("received_at"), "address": text("address", max_len=200),
        "grid": text("grid", max_len=40) or None, "area_kind": text("area_kind", max_len=16) or None,
        "description": text("description"), "caller_contact": text("caller_contact", max_len=120),
        "severity": text("severity") or "ordinary", "leader_on_site": request.form.get("leader_on_site") == "1",
        "lat": lat, "lon": lon,
    }


@bp.post("/intake")
@login_required(roles=ROLES)
def intake() -> Response | tuple[str, int]:
    """File an instruction received by telephone or fax from the 110 linkage center.

    Bad input shows the board again (HTTP 400) with the error naming the field and the form
    as typed, so nothing has to be typed twice.
    """
    _, actor = me()
    try:
        item, created = svc.receive(db.session(), get_catalog(), actor=actor, **_intake_fields())
        if not created:
            raise ValidationFailed(f"instruction {item.number} was received before", field="number")
    except DomainError as exc:
        db.session.rollback()  # the service rolled back already; leave no half-read transaction
        flash(describe(exc), "error")
        return render_template("liaison/board.html", **board_context(), intake=request.form.to_dict(),
                               intake_error=exc.field), 400
    flash(t("flash.done.receive"), "ok")
    return back("pages.liaison")
