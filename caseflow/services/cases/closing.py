"""Check (核查), close and archive (结案归档), callback (回访) that may reopen the case."""
from __future__ import annotations

from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.models import Case
from caseflow.security.actor import Actor
from caseflow.services import transition
from caseflow.workflow.engine import WorkflowCatalog

from .common import fire_case, get_case
from .guard import commit_or_rollback, ensure_writable

UNSATISFIED_MAX_GRADE = 2


def check_pass(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, opinion: str = "",
               method: str = "", comment: str = "") -> Case:
    """The result passes the check: the case is closed."""
    return fire_case(session, catalog, case_id, "check_pass", actor=actor, comment=comment,
                     data={"opinion": opinion or None, "method": method or None})


def check_fail(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, reason: str,
               method: str = "", comment: str = "") -> Case:
    """The result fails the check: back for rework (返工) with the reasons; the rework count goes up."""
    return fire_case(session, catalog, case_id, "check_fail", actor=actor, comment=comment,
                     data={"reason": reason, "method": method or None})


def archive(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, opinion: str = "",
            comment: str = "") -> Case:
    """Archive a closed case after the completion review; from now on it is read-only."""
    return fire_case(session, catalog, case_id, "archive", actor=actor, comment=comment,
                     data={"opinion": opinion or None})


def callback(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, grade: int, note: str = "",
             comment: str = "") -> Case:
    """Record a callback (回访) with a satisfaction grade 1-5 on a closed case.

    An unsatisfied grade (<= 2) within ``CALLBACK_REOPEN_DAYS`` of closing reopens the case in
    the same transaction: back to handling with the same department, deadlines re-armed.
    """
    effects = Effects()
    with commit_or_rollback(session, effects):
        ensure_writable(get_case(session, case_id))
        case = transition.apply(session, catalog, "case", case_id, "callback", actor=actor, comment=comment,
                                data={"grade": grade, "note": note}, effects=effects)
        if int(case.data["callbacks"][-1]["grade"]) <= UNSATISFIED_MAX_GRADE:
            definition = catalog.definition(case.workflow, case.workflow_version)
            spec = definition.transition_from("reopen", case.state)
            guard_ok = spec is not None and _reopen_allowed(case, catalog, actor, session, effects)
            if guard_ok:
                case = transition.apply(session, catalog, "case", case_id, "reopen", actor=actor,
                                        comment="回访不满意，重新处置", data={"grade": grade}, effects=effects)
    return case  # type: ignore[return-value]


def _reopen_allowed(case: Case, catalog: WorkflowCatalog, actor: Actor, session: Session, effects: Effects) -> bool:
    from caseflow.models import utcnow
    from caseflow.workflow.case_actions import unsatisfied_recent_callback
    from caseflow.workflow.context import TransitionContext

    ctx = TransitionContext(session=session, actor=actor, role="", trigger="reopen", data={}, effects=effects,
                            now=utcnow())
    return unsatisfied_recent_callback(case, ctx)
