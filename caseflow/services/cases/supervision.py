"""Supervision (督办) of a slow or shirking department: by phone, in writing or on site."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.models import Case, Supervision
from caseflow.security.actor import Actor
from caseflow.workflow.engine import WorkflowCatalog

from .common import fire_case


def supervise(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, method: str,
              requirement: str, due_by: datetime | str | None = None, comment: str = "") -> Case:
    """Record a supervision: ``method`` phone|written|on_site, what is required and by when.

    Who and when are the actor and now; the row names the department that held the case.
    """
    when = due_by.isoformat() if isinstance(due_by, datetime) else due_by
    return fire_case(session, catalog, case_id, "supervise", actor=actor, comment=comment,
                     data={"method": method, "requirement": requirement, "due_by": when})


def supervisions(session: Session, case_id: int) -> list[Supervision]:
    """A case's supervisions, oldest first."""
    return list(session.execute(
        select(Supervision).where(Supervision.case_id == case_id).order_by(Supervision.at, Supervision.id)
    ).scalars())
