"""Firing a case trigger: the archive check, then the transition service."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from caseflow.errors import NotFound
from caseflow.models import Case
from caseflow.security.actor import Actor
from caseflow.services import transition
from caseflow.workflow.engine import WorkflowCatalog

from .guard import ensure_writable


def get_case(session: Session, case_id: int) -> Case:
    """The case or ``NotFound``."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def fire_case(session: Session, catalog: WorkflowCatalog, case_id: int, trigger: str, *, actor: Actor,
              data: dict[str, Any] | None = None, comment: str = "", expected_state: str | None = None) -> Case:
    """Fire ``trigger`` on a case and commit; an archived case refuses every change."""
    # Lock first and hand the row to the transition: one read instead of two.
    case = transition.lock_item(session, "case", case_id)
    try:
        ensure_writable(case)  # type: ignore[arg-type]
    except Exception:
        session.rollback()
        raise
    clean = {k: v for k, v in (data or {}).items() if v is not None}
    item = transition.fire(session, catalog, "case", case_id, trigger, actor=actor, data=clean, comment=comment,
                           expected_state=expected_state, locked=case)
    return item  # type: ignore[return-value]
