"""Review and register (审核立案): register, send out for verification (核实), void (无效作废)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from caseflow.models import Case
from caseflow.security.actor import Actor
from caseflow.workflow.case_actions import VOID_REASONS
from caseflow.workflow.engine import WorkflowCatalog

from .common import fire_case

__all__ = ["VOID_REASONS", "register", "verify_report", "void"]


def register(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, title: str | None = None,
             description: str | None = None, address: str | None = None, comment: str = "") -> Case:
    """Register (立案) a reported or verified case, taking any corrected title/description/address."""
    return fire_case(session, catalog, case_id, "register", actor=actor, comment=comment,
                     data={"title": title, "description": description, "address": address})


def verify_report(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, question: str,
                  comment: str = "") -> Case:
    """Send an unclear or incomplete report out for verification, saying what is to be checked."""
    return fire_case(session, catalog, case_id, "verify_report", actor=actor, data={"question": question},
                     comment=comment)


def void(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, reason: str, note: str = "",
         comment: str = "") -> Case:
    """Void a report: ``reason`` is duplicate, out_of_scope or not_registrable (merge for duplicates
    keeps the reporters: see :func:`caseflow.services.cases.duplicates.merge`)."""
    return fire_case(session, catalog, case_id, "void", actor=actor, data={"reason": reason, "note": note},
                     comment=comment)
