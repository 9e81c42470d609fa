"""Role and department scope checks, with every denial kept for audit."""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from caseflow.errors import PermissionDenied
from caseflow.models import AccessDenial
from caseflow.security.actor import Actor

log = logging.getLogger("caseflow.access")

# Roles that see and act on everything within their center; handlers are scoped to their department.
UNSCOPED_ROLES = {"admin", "dispatcher", "liaison", "duty_lead", "duty_officer", "leader", "system"}


def record_denial(session_factory: object, actor: Actor, action: str, target: str, reason: str) -> None:
    """Write an ``AccessDenial`` row in its own transaction (the caller's will roll back)."""
    log.warning("denied %s on %s to %s: %s", action, target, actor.name or actor.person_id, reason)
    try:
        with session_factory() as s:  # type: ignore[operator]
            s.add(AccessDenial(person_id=actor.person_id, client=actor.client, action=action, target=target, reason=reason))
            s.commit()
    except Exception:  # auditing must never turn a 403 into a 500
        log.exception("could not record access denial")


def deny(session: Session, actor: Actor, action: str, target: str, reason: str) -> PermissionDenied:
    """Record the denial and return the error for the caller to raise."""
    from sqlalchemy.orm import sessionmaker

    record_denial(sessionmaker(bind=session.get_bind()), actor, action, target, reason)
    return PermissionDenied(reason)


def can_see_department_item(actor: Actor, department_ids: set[int | None]) -> bool:
    """A handler sees only items held by their own department; other roles see all."""
    if actor.roles & UNSCOPED_ROLES or actor.client:
        return True
    return actor.department_id is not None and actor.department_id in department_ids
