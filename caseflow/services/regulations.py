"""The maintained list of regulations and duty lists a return request cites (administrators)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caseflow.errors import Conflict, NotFound, ValidationFailed
from caseflow.models import REGULATION_KINDS, Regulation
from caseflow.security.actor import Actor

from .access import deny, record_audit


def _admin(session: Session, actor: Actor, action: str) -> None:
    if "admin" not in actor.roles:
        err = deny(actor, action, "regulations", "only an administrator maintains the list of regulations")
        session.rollback()
        record_audit(session, err)
        raise err


def listing(session: Session, *, active_only: bool = True) -> list[Regulation]:
    """Regulations and duty lists by code (only those in force unless ``active_only`` is False)."""
    q = select(Regulation).order_by(Regulation.code)
    if active_only:
        q = q.where(Regulation.active.is_(True))
    return list(session.execute(q).scalars())


def add(session: Session, actor: Actor, *, code: str, title: str, kind: str = "regulation", text: str = "",
        url: str = "") -> Regulation:
    """Add one regulation or duty list (admin) and commit; the code is unique."""
    _admin(session, actor, "add_regulation")
    code, title = (code or "").strip(), (title or "").strip()
    if not code or len(code) > 60:
        raise ValidationFailed("code is required (at most 60 characters)", field="code")
    if not title or len(title) > 200:
        raise ValidationFailed("title is required (at most 200 characters)", field="title")
    if kind not in REGULATION_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(REGULATION_KINDS)}", field="kind")
    if url and not url.startswith(("http://", "https://")):
        raise ValidationFailed("url must start with http:// or https://", field="url")
    row = Regulation(code=code, title=title, kind=kind, text=text or "", url=url or "", active=True)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"a regulation with code {code!r} exists already", field="code") from None
    return row


def set_active(session: Session, actor: Actor, regulation_id: int, active: bool) -> Regulation:
    """Put a regulation out of force (or back); requests that cited it keep pointing at it."""
    _admin(session, actor, "change_regulation")
    row = session.get(Regulation, regulation_id)
    if row is None:
        raise NotFound(f"regulation {regulation_id} not found")
    row.active = bool(active)
    session.commit()
    return row
