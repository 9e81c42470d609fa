"""Dispatch and handle (派遣, 处置反馈): one department, or a lead with co-operating departments.

Complex and difficult cases keep one :class:`CaseParticipant` per department: each signs for
and reports on its own part; the lead's report moves the whole case to checking.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.models import Case, CaseParticipant
from caseflow.security.actor import Actor
from caseflow.workflow.engine import WorkflowCatalog

from .common import fire_case


def dispatch(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, department_id: int,
             cooperating_department_ids: list[int] | None = None, comment: str = "") -> Case:
    """Dispatch a registered case to a department (the lead, with co-operating ones for complex cases)."""
    return fire_case(session, catalog, case_id, "dispatch", actor=actor, comment=comment,
                     data={"department_id": department_id, "cooperating_department_ids": cooperating_department_ids})


def redispatch(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, department_id: int,
               reason: str, comment: str = "") -> Case:
    """Second dispatch (二次派遣) to another department, with the reason."""
    return fire_case(session, catalog, case_id, "redispatch", actor=actor, comment=comment,
                     data={"department_id": department_id, "reason": reason})


def add_cooperating(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor,
                    department_ids: list[int], comment: str = "") -> Case:
    """Add co-operating departments to a complex case."""
    return fire_case(session, catalog, case_id, "add_cooperating", actor=actor, comment=comment,
                     data={"department_ids": department_ids})


def sign(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, comment: str = "") -> Case:
    """The (lead) department signs for the case (签收) and starts handling."""
    return fire_case(session, catalog, case_id, "sign", actor=actor, comment=comment)


def sign_part(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, comment: str = "") -> Case:
    """A co-operating department signs for its own part."""
    return fire_case(session, catalog, case_id, "sign_part", actor=actor, comment=comment)


def report_part(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, result: str,
                evidence_refs: list[Any] | None = None, comment: str = "") -> Case:
    """A co-operating department reports the result of its own part (evidence references go to the ledger)."""
    return fire_case(session, catalog, case_id, "report_part", actor=actor, comment=comment,
                     data={"result": result, "evidence_refs": evidence_refs or None})


def report_result(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, result: str,
                  evidence_refs: list[Any] | None = None, comment: str = "") -> Case:
    """Report the handling result (处置反馈) with evidence references; the case goes to checking.

    A simple case's result must name a site photo (现场照片) uploaded to the case during this
    visit, as ``attachment:<id>`` in ``evidence_refs`` (see :mod:`.site_photo`); without one the
    step is refused with ``ValidationFailed`` naming ``evidence_refs``.
    """
    return fire_case(session, catalog, case_id, "report_result", actor=actor, comment=comment,
                     data={"result": result, "evidence_refs": evidence_refs})


def escalate_to_district(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, reason: str,
                         comment: str = "") -> Case:
    """Report a difficult case up to the district center, which coordinates.

    The district center above the case's street center then holds the case (``center_id``) and
    its dispatchers and leaders are notified through the outbox (see :mod:`.district`); the
    ledger entry names the center and who was told. ``ValidationFailed`` naming ``center_id``
    when no district center is configured.
    """
    return fire_case(session, catalog, case_id, "escalate_to_district", actor=actor, comment=comment,
                     data={"reason": reason})


def start_joint_handling(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor,
                         department_id: int, cooperating_department_ids: list[int] | None = None,
                         comment: str = "") -> Case:
    """The center leads joint handling (联合处置): a lead department, optionally co-operating ones."""
    return fire_case(session, catalog, case_id, "start_joint_handling", actor=actor, comment=comment,
                     data={"department_id": department_id, "cooperating_department_ids": cooperating_department_ids})


def apply_joint_handling(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor, reason: str,
                         department_ids: list[int] | None = None, comment: str = "") -> Case:
    """A handling department applies for joint handling with more departments (its suggestion)."""
    return fire_case(session, catalog, case_id, "apply_joint_handling", actor=actor, comment=comment,
                     data={"reason": reason, "department_ids": department_ids})


def approve_joint_handling(session: Session, catalog: WorkflowCatalog, case_id: int, *, actor: Actor,
                           department_ids: list[int], comment: str = "") -> Case:
    """The center approves the application: the departments join as co-operating parts."""
    return fire_case(session, catalog, case_id, "approve_joint_handling", actor=actor, comment=comment,
                     data={"department_ids": department_ids})


def participants(session: Session, case_id: int) -> list[CaseParticipant]:
    """A case's parts, lead first."""
    rows = session.execute(
        select(CaseParticipant).where(CaseParticipant.case_id == case_id).order_by(CaseParticipant.id)
    ).scalars()
    return sorted(rows, key=lambda p: (p.role != "lead", p.id))
