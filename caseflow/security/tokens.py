"""API tokens for people and machine clients; only their SHA-256 is stored."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from caseflow.models import ApiToken, Person, utcnow
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
    """The actor a bearer token stands for, or None when unknown or revoked."""
    # The person comes in the same query (every API request does this lookup first).
    row = session.execute(
        select(ApiToken).options(joinedload(ApiToken.person)).where(ApiToken.token_hash == digest(token))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    # At most one write a minute: every request updating (and locking) the same row would
    # serialise all of a client's concurrent requests behind one row lock and a commit each.
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > LAST_USED_RESOLUTION_S:
        row.last_used_at = now
    if row.client_kind == "person":
        person = row.person
        if person is None or not person.active:
            return None
        return Actor.from_person(person)
    return Actor.client_of(row.client_kind, row.name)


def revoke_token(session: Session, token_id: int) -> None:
    """Revoke a token. Commits."""
    row = session.get(ApiToken, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()
