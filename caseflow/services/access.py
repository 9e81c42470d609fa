"""Role and department scope checks, with every denial kept for audit."""
from __future__ import annotations

import logging

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from caseflow.errors import DomainError, PermissionDenied
from caseflow.models import AccessDenial, Case, CaseReporter
from caseflow.security.actor import Actor

log = logging.getLogger("caseflow.access")

# Roles that see and act on everything within their center; handlers are scoped to their department.
UNSCOPED_ROLES = {"admin", "dispatcher", "liaison", "duty_lead", "duty_officer", "leader", "system"}
# Item types a kind of machine client sees beyond the cases it reported: every instruction
# comes from the 110 linkage center, so it may follow them all.
CLIENT_ITEM_TYPES: dict[str, frozenset[str]] = {"linkage_110": frozenset({"instruction"})}


def deny(actor: Actor, action: str, target: str, reason: str, error: DomainError | None = None) -> DomainError:
    """The error to raise for a refused action, marked so the denial is audited after rollback."""
    log.warning("denied %s on %s to %s: %s", action, target, actor.name or actor.person_id, reason)
    err = error or PermissionDenied(reason)
    err.audit = {"person_id": actor.person_id, "client": actor.client, "action": action, "target": target,
                 "reason": reason}
    return err


def record_audit(session: Session, exc: BaseException) -> None:
    """After a rollback, keep the denial the error carries (if any) in its own commit."""
    audit = getattr(exc, "audit", None)
    if not audit:
        return
    try:
        session.add(AccessDenial(**audit))
        session.commit()
    except Exception:  # auditing must never turn a 403 into a 500
        session.rollback()
        log.exception("could not record access denial")


def admin_role(actor: Actor, action: str, target: str, what: str) -> str:
    """The role an administrative setting change is made in: ``admin``, or ``system`` for the
    command line; anyone else is refused (and the refusal audited) naming ``what``."""
    if "admin" in actor.roles:
        return "admin"
    if "system" in actor.roles:
        return "system"
    raise deny(actor, action, target, f"only administrators change {what}")


def is_machine_client(actor: Actor) -> bool:
    """A sensor gateway, the hotline, the 110 linkage, an app: not a person, not the system."""
    return bool(actor.client) and not actor.roles & UNSCOPED_ROLES


def can_see_department_item(actor: Actor, department_ids: set[int | None]) -> bool:
    """A handler sees only items held by their own department; unscoped roles see all.

    A machine client has no department, so this says no; what it may see is what it reported
    (``can_see_item``, ``client_case_clause``).
    """
    if actor.roles & UNSCOPED_ROLES:
        return True
    if actor.client:
        return False
    return actor.department_id is not None and actor.department_id in department_ids


def client_case_clause(actor: Actor) -> ColumnElement[bool]:
    """SQL: ``Case`` was reported over the machine client's channel (merged duplicates included,
    since their reporters move onto the original)."""
    return exists().where(CaseReporter.case_id == Case.id, CaseReporter.channel == actor.client)


def client_reported_case(session: Session, actor: Actor, case_id: int) -> bool:
    """True when the machine client ``actor`` reported case ``case_id``."""
    return session.execute(select(CaseReporter.id).where(
        CaseReporter.case_id == case_id, CaseReporter.channel == actor.client).limit(1)).first() is not None


def can_see_item(session: Session, actor: Actor, item_type: str, item_id: int,
                 department_ids: set[int | None]) -> bool:
    """Whether ``actor`` may read an item (and its reporters, ledger and evidence).

    People and the system: by department (``can_see_department_item``), and a person also sees
    the cases they reported (a patrol inspector follows their report and adds photos to it,
    also before dispatch and when another department holds it). Machine clients: the cases
    they reported, plus the item types of ``CLIENT_ITEM_TYPES`` for their kind.
    """
    if not is_machine_client(actor):
        if can_see_department_item(actor, department_ids):
            return True
        return item_type == "case" and person_reported_case(session, actor, item_id)
    if item_type == "case":
        return client_reported_case(session, actor, item_id)
    return client_sees_type(actor, item_type)


def person_reported_case(session: Session, actor: Actor, case_id: int) -> bool:
    """True when the person ``actor`` reported case ``case_id``: they filed it, or one of its
    reporter rows is theirs (a duplicate they reported was merged into it)."""
    if actor.person_id is None:
        return False
    return session.execute(select(Case.id).where(
        Case.id == case_id, reported_by_clause(actor.person_id)).limit(1)).first() is not None


def reported_by_clause(person_id: int) -> ColumnElement[bool]:
    """SQL: ``Case`` was reported by the person (as :func:`person_reported_case` decides)."""
    mine = exists().where(CaseReporter.case_id == Case.id, CaseReporter.person_id == person_id)
    return or_(Case.reporter_id == person_id, mine)


def client_sees_type(actor: Actor, item_type: str) -> bool:
    """Whether a machine client may see every item of ``item_type`` (``CLIENT_ITEM_TYPES``)."""
    return item_type in CLIENT_ITEM_TYPES.get(actor.client, frozenset())
