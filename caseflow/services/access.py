"""Role and department scope checks, with every denial kept for audit."""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from caseflow.errors import DomainError, PermissionDenied
from caseflow.models import AccessDenial
from caseflow.security.actor import Actor

log = logging.getLogger("caseflow.access")

# Roles that see and act on everything within their center; handlers are scoped to their department.
UNSCOPED_ROLES = {"admin", "dispatcher", "liaison", "duty_lead", "duty_officer", "leader", "system"}


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


def can_see_department_item(actor: Actor, department_ids: set[int | None]) -> bool:
    """A handler sees only items held by their own department; other roles see all."""
    if actor.roles & UNSCOPED_ROLES or actor.client:
        return True
    return actor.department_id is not None and actor.department_id in department_ids
