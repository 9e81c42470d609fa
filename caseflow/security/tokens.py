"""API tokens for people and machine clients; only their SHA-256 is stored."""
from __future__ import annotations

import hashlib
import secrets
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from caseflow.models import ApiToken, Person, PersonRole, utcnow
from caseflow.models.people import CLIENT_KINDS

from .actor import Actor

PREFIX = "cf_"


LAST_USED_RESOLUTION_S = 60


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, name: str, *, person: Person | None = None, client_kind: str = "person") -> str:
    """Create a token and return it in clear (shown once). Commits."""
    if client_kind not in CLIENT_KINDS:
        raise ValueError(f"unknown client kind {client_kind!r}")
    if client_kind == "person" and person is None:
        raise ValueError("a person token needs a person")
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=digest(token), client_kind=client_kind,
                         person_id=person.id if person else None))
    session.commit()
    return token


def actor_for_token(session: Session, token: str) -> Actor | None:
    """The actor a bearer token stands for, or None when unknown or revoked.

    Every API request starts here, so it is one plain-column statement (the token, its person
    and the person's roles, a row per role) and no ORM objects. ``last_used_at`` is written
    at most once a minute, with an UPDATE in the caller's transaction: the caller commits it
    (:func:`token_touched` says whether there is anything to commit).
    """
    # Plain SQL on the session's connection (no ORM objects, no autoflush: it reads only tokens,
    # people and roles).
    rows = session.connection().execute(_token_lookup(), {"token_hash": digest(token)}).all()
    if not rows:
        return None
    row = rows[0]
    if row.revoked_at is not None:
        return None
    now = utcnow()
    # At most one write a minute: every request updating (and locking) the same row would
    # serialise all of a client's concurrent requests behind one row lock and a commit each.
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > LAST_USED_RESOLUTION_S:
        # ORM-enabled UPDATE: a token object already in the session sees the new value too.
        session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        session.info[_TOUCHED] = True
    if row.client_kind == "person":
        if row.person_id is None or not row.active:
            return None
        return Actor(person_id=row.person_id, roles=frozenset(r.role for r in rows if r.role is not None),
                     department_id=row.department_id, center_id=row.center_id, name=row.full_name)
    return Actor.client_of(row.client_kind, row.name)


_TOUCHED = "caseflow.token_touched"


def token_touched(session: Session) -> bool:
    """True (once) when :func:`actor_for_token` wrote ``last_used_at`` in this session's transaction."""
    return bool(session.info.pop(_TOUCHED, False))


@cache
def _token_lookup() -> Any:
    """The token with its person's fields and roles (``token_hash`` bound at execution), built once."""
    token, person, role = ApiToken.__table__, Person.__table__, PersonRole.__table__
    return (
        select(token.c.id, token.c.name, token.c.client_kind, token.c.revoked_at, token.c.last_used_at,
               person.c.id.label("person_id"), person.c.active, person.c.department_id, person.c.center_id,
               person.c.full_name, role.c.role)
        .select_from(token.outerjoin(person, person.c.id == token.c.person_id)
                     .outerjoin(role, role.c.person_id == person.c.id))
        .where(token.c.token_hash == bindparam("token_hash"))
    )


def revoke_token(session: Session, token_id: int) -> None:
    """Revoke a token. Commits."""
    row = session.get(ApiToken, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()
