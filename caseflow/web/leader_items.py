"""One item as a leader sees it from the dashboard's overdue list (/leader/items/<type>/<id>):
read-only facts, its deadlines, supervisions and ledger, and for a case the supervise (督办)
form when the case's workflow lets a leader supervise it in its state.

The dispatcher's case page and the liaison's instruction page belong to those roles and carry
their operations; this page shows any kind of item (case, instruction, return request, shift,
handover, roll call) without them. Another center's or department's item is not found, as in
the API (:func:`caseflow.services.attachments.visible_item`). Supervising goes through
:func:`caseflow.services.cases.supervision.supervise`, the same service the dispatcher's form
and ``POST /api/cases/<id>/supervise`` use; the workflow's roles decide who may.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, current_app, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from caseflow.errors import DomainError
from caseflow.extensions import db
from caseflow.models import ITEM_MODELS, Case, Deadline, LedgerEntry, WorkflowItem, utcnow
from caseflow.models.case_parts import SUPERVISION_METHODS
from caseflow.services.attachments import visible_item
from caseflow.services.cases import supervision
from caseflow.workflow.engine import get_catalog

from .console_forms import choice, new_form_token, submit_once, text
from .dispatch_case import trigger_label
from .guards import login_required
from .i18n import current_language, t
from .work import back, local_time, me

bp = Blueprint("leader_items", __name__, url_prefix="/leader/items")
bp.add_app_template_global(new_form_token, "form_token")

ROLES = ["leader"]
# Every kind of item the overdue list can show (the dashboard links each one here).
ITEM_TYPE = f"<any({', '.join(ITEM_MODELS)}):item_type>"
INSTRUCTION_PAGE = "instruction_steps.leader_instruction"
# What a refused supervision names, in the form's words.
LABELS = {"method": "field.method", "requirement": "field.requirement", "due_by": "field.due_by"}


@dataclass
class Step:
    """One ledger entry as the page shows it."""

    at: datetime
    trigger: str
    label: str
    to_label: str
    comment: str


def can_supervise(item: WorkflowItem) -> bool:
    """Whether the item is a case whose workflow lets a leader supervise it in its current state."""
    if item.item_type != "case":
        return False
    try:
        definition = get_catalog().definition(item.workflow, item.workflow_version)
    except KeyError:
        return False
    return any(tr.trigger == "supervise" and "leader" in tr.roles for tr in definition.triggers_from(item.state))


def _state_label(item: WorkflowItem, state: str | None) -> str:
    if not state:
        return ""
    try:
        return get_catalog().definition(item.workflow, item.workflow_version).label(state, current_language())
    except KeyError:
        return state


def history(item: WorkflowItem) -> list[Step]:
    """The item's ledger, oldest first, with labels in the page's language."""
    rows = db.session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == item.item_type, LedgerEntry.item_id == item.id).order_by(LedgerEntry.seq)).scalars()
    return [Step(e.at, e.trigger, trigger_label(e.trigger),
                 _state_label(item, e.to_state) if e.to_state != e.from_state else "",
                 e.comment or str((e.payload or {}).get("reason") or "")) for e in rows]


def deadlines(item: WorkflowItem) -> list[tuple[Deadline, str, bool]]:
    """The item's deadlines, soonest first, each with its state's label and whether it is overdue now
    (past due, still pending or fired, and armed by the state visit the item is in)."""
    now = utcnow()
    rows = db.session.execute(select(Deadline).where(Deadline.item_type == item.item_type, Deadline.item_id == item.id)
                              .order_by(Deadline.due_at, Deadline.id)).scalars()
    return [(d, _state_label(item, d.state),
             d.status in ("pending", "fired") and d.due_at <= now and d.state_seq == item.state_seq) for d in rows]


def _visible(item_type: str, item_id: int) -> WorkflowItem:
    """The item, or 404 (none, or another center's or department's: audited as the API does)."""
    _, actor = me()
    try:
        item = visible_item(db.session(), item_type, item_id, actor, "view")
    except DomainError:
        abort(404)
    return item


def item_context(item: WorkflowItem) -> dict[str, Any]:
    """Everything ``leader/item.html`` shows."""
    try:
        definition = get_catalog().definition(item.workflow, item.workflow_version)
        workflow_title = (definition.title or {}).get(current_language()) or definition.name
    except KeyError:
        workflow_title = item.workflow
    related = None
    if item.item_type == "return_request":
        case = db.session.get(Case, item.case_id)  # type: ignore[attr-defined]
        related = (url_for("leader_items.view", item_type="case", item_id=case.id), case.number) if case else None
    # An instruction's own leader page (severity reports to the principal leader), where installed.
    steps_page = (url_for(INSTRUCTION_PAGE, item_id=item.id)
                  if item.item_type == "instruction" and INSTRUCTION_PAGE in current_app.view_functions else None)
    return {"item": item, "item_type": item.item_type, "state": _state_label(item, item.state),
            "workflow_title": workflow_title, "deadlines": deadlines(item), "history": history(item),
            "supervisions": supervision.supervisions(db.session(), item.id) if item.item_type == "case" else [],
            "can_supervise": can_supervise(item), "methods": SUPERVISION_METHODS, "related": related,
            "steps_page": steps_page}


@bp.get(f"/{ITEM_TYPE}/<int:item_id>")
@login_required(roles=ROLES)
def view(item_type: str, item_id: int) -> str:
    """The item, read-only, with the supervise form for a case a leader may supervise now."""
    item = _visible(item_type, item_id)
    return render_template("leader/item.html", **item_context(item))


@bp.post("/case/<int:case_id>/supervise")
@login_required(roles=ROLES)
def supervise(case_id: int) -> Response:
    """Supervise (督办) the case: by phone, in writing or on site, what is required and by when.
    Done once per form; back to the page the form was on (the case's page by default)."""
    _visible("case", case_id)
    _, actor = me()
    db.session.rollback()  # the service takes its own locks
    session, catalog = db.session(), get_catalog()

    def call() -> Any:
        return supervision.supervise(session, catalog, case_id, actor=actor,
                                     method=choice("method", SUPERVISION_METHODS),
                                     requirement=text("requirement", required=True),
                                     due_by=local_time("due_by"), comment=text("comment"))

    return submit_once(call, t("flash.done.case.supervise"),
                       lambda _result: back("leader_items.view", item_type="case", item_id=case_id),
                       {name: t(key) for name, key in LABELS.items()})


__all__ = ["bp", "can_supervise", "item_context"]
