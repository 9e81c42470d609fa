"""The liaison's side of a unit's transfer request (申请移交) on the liaison's instruction page
(/liaison/<id>): the waiting request shown with its reason, basis, suggested unit, who and when,
and the decision on it; plus a transfer (移交) on the liaison's own initiative, which the
instruction workflow allows from dispatched, late and on site without any request.

The liaison approves a request by transferring the instruction to another unit (the suggested
one preselected) or, when the unit says the matter is not the bureau's, by explaining that to
110 (``report_not_ours``); or rejects it with a reason. The forms call the service functions the
API calls for the same steps (``caseflow.api.instructions.ACTIONS``: ``transfer``, ``not-ours``,
``reject-transfer``); each form is done once however often it is sent
(:func:`caseflow.web.console_forms.submit_once`).

A form also carries the number of the request it was shown with (``request_no``, 0 for none): a
request withdrawn, decided or newly made since the page was drawn refuses the form, so nobody
approves or overrides a request they have not seen.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.errors import Conflict, DomainError, InvalidTransition, NotFound, TransitionRejected, ValidationFailed
from caseflow.models import Department, Instruction, Person, Regulation
from caseflow.security.actor import Actor
from caseflow.services import instructions as svc
from caseflow.workflow.engine import WorkflowCatalog, get_catalog
from caseflow.workflow.instruction_transfer_actions import open_request, requests_of

from .console_forms import text, whole
from .i18n import current_language, t

# URL action -> the instruction workflow's trigger (the API's names for the same steps).
DECISIONS = {"transfer": "transfer", "not-ours": "report_not_ours", "reject-transfer": "reject_transfer"}


def _when(raw: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def request_view(session: Session, req: dict[str, Any], no: int) -> dict[str, Any]:
    """One transfer request as the page shows it: the stored facts with their rows resolved."""
    def row(model: type, key: str) -> Any:
        return session.get(model, req[key]) if req.get(key) else None

    return {**req, "no": no, "when": _when(req.get("at")), "decided_when": _when(req.get("decided_at")),
            "unit": row(Department, "department_id"), "suggested": row(Department, "suggested_department_id"),
            "regulation": row(Regulation, "basis_ref_id"), "requested_by": row(Person, "requested_by_id"),
            "decided_by": row(Person, "decided_by_id"), "to_unit": row(Department, "to_department_id")}


def transfer_context(session: Session, item: Instruction, triggers: set[str]) -> dict[str, Any]:
    """What the instruction page needs for the transfer request and the transfer forms.

    ``triggers``: the liaison's triggers from the instruction's state (the guards decide the rest).
    """
    reqs = requests_of(item)
    waiting = open_request(item)
    departments = session.execute(select(Department).where(Department.active.is_(True))
                                  .order_by(Department.code)).scalars()
    return {
        "transfer_request": request_view(session, waiting, len(reqs)) if waiting else None,
        "past_transfer_requests": [request_view(session, r, n) for n, r in enumerate(reqs, 1)
                                   if r.get("state") != "open"],
        "request_no": len(reqs) if waiting else 0,
        "can_transfer": "transfer" in triggers,
        "can_reject_transfer": waiting is not None and "reject_transfer" in triggers,
        # Before arrival only on a not_bureau request (the workflow's guard); on site the liaison may
        # always explain to 110, but the page offers it as the answer to such a request.
        "can_report_not_ours": waiting is not None and waiting.get("kind") == "not_bureau"
        and "report_not_ours" in triggers,
        "transfer_departments": [d for d in departments if d.id != item.department_id],
    }


# -- the steps ---------------------------------------------------------------------------------

def _check_shown_request(item: Instruction) -> None:
    """Refuse a form drawn for another request than the one waiting now (or none)."""
    raw = (request.form.get("request_no") or "").strip()
    if not raw:
        return  # a form without it (a script): the service's own checks decide
    waiting = open_request(item)
    now = len(requests_of(item)) if waiting else 0
    if not raw.isdigit() or int(raw) != now:
        raise DomainError(t("liaison.error.stale_request"))


def _transfer(s: Session, c: WorkflowCatalog, item: Instruction, actor: Actor) -> Any:
    department_id = whole("department_id", required=True)
    if department_id == item.department_id:
        raise ValidationFailed(t("liaison.error.same_unit"), field="department_id")
    reason = text("reason", required=True, max_len=4000)
    return svc.transfer(s, c, item.id, actor=actor, department_id=department_id, reason=reason)


def _not_ours(s: Session, c: WorkflowCatalog, item: Instruction, actor: Actor) -> Any:
    return svc.report_not_ours(s, c, item.id, actor=actor, explanation=text("explanation", required=True,
                                                                          max_len=4000))


def _reject(s: Session, c: WorkflowCatalog, item: Instruction, actor: Actor) -> Any:
    return svc.reject_transfer(s, c, item.id, actor=actor, reason=text("reason", required=True, max_len=4000))


STEPS: dict[str, Callable[[Session, WorkflowCatalog, Instruction, Actor], Any]] = {
    "transfer": _transfer, "not-ours": _not_ours, "reject-transfer": _reject,
}


def labels(action: str) -> dict[str, str]:
    """The fields' names on this action's form, for refusals that name the field."""
    if action == "transfer":
        return {"department_id": t("field.transfer_to"), "reason": t("field.transfer_reason")}
    if action == "not-ours":
        return {"explanation": t("field.explanation_110")}
    return {"reason": t("field.reject_reason")}


def refusal(exc: DomainError, item: Instruction) -> str:
    """A workflow refusal in the page's language, about the instruction (not a case)."""
    if isinstance(exc, TransitionRejected):
        key = "guard." + str(exc.details.get("guard") or "").replace("not ", "not_")
        return t(key) if t(key) != key else t("form.error.rejected")
    state = exc.details.get("state")
    if state:
        label = get_catalog().definition(item.workflow, item.workflow_version).label(state, current_language())
        return t("liaison.error.state", state=label)
    return t("liaison.error.not_now")


def decide(session: Session, item_id: int, action: str, actor: Actor) -> Any:
    """Run one decision through the instruction services; workflow refusals are explained about
    the instruction, field errors name the field (the caller flashes them)."""
    item = session.get(Instruction, item_id)
    if item is None:  # the route checked; deleted in between
        raise NotFound(f"instruction {item_id} not found")
    _check_shown_request(item)
    try:
        return STEPS[action](session, get_catalog(), item, actor)
    except (InvalidTransition, Conflict, TransitionRejected) as exc:
        if exc.field:
            raise
        raise DomainError(refusal(exc, item)) from exc
