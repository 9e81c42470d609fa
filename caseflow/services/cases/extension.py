"""Extension (延期) and deferral / hang-up (缓办/挂账): asked by the handler, decided by the dispatcher.

An approved extension moves the running time limit by the granted duration; an approved
deferral pauses it (the row keeps the time it had left) until ``resume`` re-arms it from now.
While undecided, the department that asked may withdraw its request (撤回申请); nothing moves.
Every request and decision is a ledger entry with the deadline changes in its payload.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from caseflow.errors import TransitionRejected
from caseflow.models import Case
from caseflow.security.actor import Actor
from caseflow.workflow.engine import WorkflowCatalog

from .common import fire_case


def request_extension(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, duration: str,
                      reason: str, comment: str = "") -> Case:
    """The handler asks for ``duration`` more (``4h``, ``1d``) with a reason."""
    return fire_case(session, catalog, case_id, "request_extension", actor=actor, comment=comment,
                     data={"duration": duration, "reason": reason})


def approve_extension(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, reason: str,
                      duration: str | None = None, comment: str = "") -> Case:
    """The dispatcher grants the extension (``duration`` may differ from the request)."""
    return fire_case(session, catalog, case_id, "approve_extension", actor=actor, comment=comment,
                     data={"reason": reason, "duration": duration})


def reject_extension(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, reason: str,
                     comment: str = "") -> Case:
    """The dispatcher refuses the extension, with a reason."""
    return fire_case(session, catalog, case_id, "reject_extension", actor=actor, comment=comment,
                     data={"reason": reason})


def request_deferral(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, reason: str,
                     comment: str = "") -> Case:
    """The handler asks to defer / hang up the case (e.g. waiting for a permit), with a reason."""
    return fire_case(session, catalog, case_id, "request_deferral", actor=actor, comment=comment,
                     data={"reason": reason})


def approve_deferral(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, reason: str,
                     comment: str = "") -> Case:
    """The dispatcher approves: the running limits pause with their remaining time."""
    return fire_case(session, catalog, case_id, "approve_deferral", actor=actor, comment=comment,
                     data={"reason": reason})


def reject_deferral(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, reason: str,
                    comment: str = "") -> Case:
    """The dispatcher refuses the deferral, with a reason."""
    return fire_case(session, catalog, case_id, "reject_deferral", actor=actor, comment=comment,
                     data={"reason": reason})


def withdraw_request(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, reason: str = "",
                     comment: str = "") -> Case:
    """The department that asked takes its extension or deferral request back before the dispatcher
    decides (撤回申请), with an optional reason.

    The request is kept in ``case.data["requests"]`` with the decision ``withdrawn`` and the ledger
    entry (``withdraw_request``) names its ``request_kind``; no time limit changes, and a new
    request may be made at once. Refused (409, ``TransitionRejected``) when no request awaits a
    decision, or when the actor's department is not the lead of a complex or difficult case;
    ``PermissionDenied`` for a handler of another department than the one that asked; a dispatcher
    or leader may not withdraw a handler's request.
    """
    try:
        return fire_case(session, catalog, case_id, "withdraw_request", actor=actor, comment=comment,
                         data={"reason": reason})
    except TransitionRejected as exc:
        if exc.details.get("guard") != "request_pending":
            raise
        # Checked after the role and department (another department learns nothing of the case).
        raise TransitionRejected(f"case {case_id} has no extension or deferral request awaiting a decision: "
                                 "nothing to withdraw", details=exc.details) from None


def resume(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, reason: str,
           comment: str = "") -> Case:
    """End a deferral: paused limits are re-armed with the time they had left."""
    return fire_case(session, catalog, case_id, "resume", actor=actor, comment=comment, data={"reason": reason})
