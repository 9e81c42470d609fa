"""One case as the dispatcher sees it (/dispatch/cases/<id>): the facts, who reported it and what
they sent, duplicate candidates, the departments' parts, requests waiting for a decision,
callbacks, the ledger, and the steps the dispatcher may take now: among them dispatching a
complex case with co-operating departments (协办) and adding more while it is handled, reporting
a difficult case up to the district center (上报区城运中心) with a reason, and marking the case
urgent (紧急) or taking the flag off.

Read-only: the forms post to :func:`caseflow.web.dispatch.case_action` (the Open311 show/hide
steps are :data:`PUBLIC_STEPS` here, through the same service the API's ``/public`` calls).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import abort
from sqlalchemy import select

from caseflow.extensions import db
from caseflow.models import Attachment, Case, CaseReporter, Center, LedgerEntry
from caseflow.security.actor import Actor
from caseflow.services import open311
from caseflow.services.cases import handling, reclassify, supervision, urgent
from caseflow.workflow.engine import WorkflowCatalog, get_catalog

from .console_forms import state_label, text
from .i18n import current_language, t


@dataclass
class Step:
    """One ledger entry as a page shows it."""

    at: datetime
    trigger: str
    label: str
    to_label: str
    changed_state: bool
    comment: str
    payload: dict[str, Any]


def trigger_label(trigger: str) -> str:
    """A ledger trigger in the page's language (the trigger's own name when it has no label)."""
    key = "trigger." + trigger
    label = t(key)
    return trigger if label == key else label


def history(case_id: int) -> list[Step]:
    """The case's ledger, oldest first, with labels."""
    rows = db.session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "case", LedgerEntry.item_id == case_id).order_by(LedgerEntry.seq)).scalars()
    return [Step(e.at, e.trigger, trigger_label(e.trigger), state_label(e.to_state) if e.to_state else "",
                 e.from_state != e.to_state, e.comment or "", dict(e.payload or {})) for e in rows]


def evidence(case_id: int) -> list[Attachment]:
    """The files stored for the case (a merged duplicate's files included), oldest first."""
    return list(db.session.execute(select(Attachment).where(
        Attachment.item_type == "case", Attachment.item_id == case_id).order_by(Attachment.id)).scalars())


def stamped(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """A record kept in ``case.data`` with its ISO ``at`` also as a time (``when``), for display."""
    if not entry:
        return None
    try:
        when = datetime.fromisoformat(str(entry.get("at")))
    except ValueError:
        when = None
    return {**entry, "when": when}


def dispatcher_triggers(case: Case) -> set[str]:
    """Triggers of the case's workflow a dispatcher may fire from its state (guards decide the rest)."""
    definition = get_catalog().definition(case.workflow, case.workflow_version)
    return {tr.trigger for tr in definition.triggers_from(case.state) if "dispatcher" in tr.roles}


def takes_parts(case: Case) -> bool:
    """Whether dispatching the case from its state assigns parts (a lead and co-operating
    departments): the workflow's dispatch transition says so (``assign_participants``)."""
    definition = get_catalog().definition(case.workflow, case.workflow_version)
    spec = definition.transition_from("dispatch", case.state)
    return spec is not None and "assign_participants" in spec.after


def case_context(case_id: int) -> dict[str, Any]:
    """Everything ``dispatch/case.html`` shows, with the inbox's choices for the forms."""
    from .dispatch import choices
    from .pages import rows_for

    case = db.session.get(Case, case_id)
    if case is None:
        abort(404)
    session = db.session()
    row = rows_for([case])[0]
    data = dict(case.data or {})
    reporters = list(session.execute(select(CaseReporter).where(CaseReporter.case_id == case.id)
                                     .order_by(CaseReporter.id)).scalars())
    merged_into = session.get(Case, data["merged_into"]) if data.get("merged_into") else None
    definition = get_catalog().definition(case.workflow, case.workflow_version)
    parts = handling.participants(session, case.id)
    context = choices([case])
    # Departments that may still join: active ones without a live part (nor the lead).
    taken = {p.department_id for p in parts if p.state != "withdrawn"} | {case.department_id}
    return {
        "item": case, "row": row, "data": data, "triggers": dispatcher_triggers(case),
        "workflow_title": (definition.title or {}).get(current_language()) or definition.name,
        "can_reclassify": reclassify.allowed(case), "reporters": reporters, "merged_into": merged_into,
        "public": open311.is_public(case),
        "candidates": data.get("duplicate_candidates") or [], "pending": stamped(data.get("pending_request")),
        "deferred": bool(data.get("deferred")), "callbacks": [stamped(c) for c in data.get("callbacks") or []],
        "state_label": state_label,
        "parts": parts, "supervisions": supervision.supervisions(session, case.id),
        "evidence": evidence(case.id), "history": history(case.id), "takes_parts": takes_parts(case),
        "may_set_urgent": urgent.may_set(case, get_catalog()), "district": stamped(data.get("district")),
        "district_center": session.get(Center, data["district"]["center_id"]) if data.get("district") else None,
        "joinable": [d for d in context["departments"] if d.id not in taken], **context,
    }


def _set_public(public: bool) -> Callable[[Any, WorkflowCatalog, int, Actor, str], Any]:
    """The step that shows (or hides) the case on Open311, with the form's reason."""
    def step(s: Any, c: WorkflowCatalog, case_id: int, actor: Actor, comment: str) -> Any:
        return open311.set_public(s, case_id, actor=actor, public=public,
                                  reason=text("reason", max_len=2000) or comment)
    return step


# Show or hide the case on the public Open311 GET endpoints (ledgered as ``set_public``).
PUBLIC_STEPS = {"publish": _set_public(True), "unpublish": _set_public(False)}
