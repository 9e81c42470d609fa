"""People who sign in: creating them with their roles, and checking a password at sign-in."""
from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caseflow.errors import ValidationFailed
from caseflow.models import ROLES, Center, Department, Person, PersonRole
from caseflow.security.passwords import hash_password, needs_rehash, verify_password

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")

_dummy_hash: str | None = None


def _dummy() -> str:
    """A real argon2 hash to verify against when the username is unknown.

    Verifying something costs the same time whether or not the user exists, so the
    response time does not tell an attacker which usernames are real.
    """
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password("caseflow-no-such-user")
    return _dummy_hash


def normalise_username(username: str) -> str:
    """Usernames are compared case-insensitively and stored in lower case."""
    return (username or "").strip().lower()


def create_person(
    session: Session,
    username: str,
    full_name: str,
    password: str,
    roles: Iterable[str],
    department_id: int | None = None,
    center_id: int | None = None,
    *,
    phone: str = "",
    email: str = "",
    channels: list[str] | None = None,
    locale: str = "zh",
    commit: bool = True,
    password_hash: str | None = None,
) -> Person:
    """Create an active person with ``roles``; the password is stored as an argon2 hash.

    Raises ``ValidationFailed`` naming the field: ``username`` (malformed or taken),
    ``full_name``, ``password`` (shorter than 8), ``roles`` (none or unknown),
    ``department_id`` (unknown, or missing for a handler), ``center_id``.
    ``password_hash`` (an argon2 hash made by ``hash_password``) replaces ``password`` for bulk
    loads where many people share one password (the demo): argon2 is slow on purpose.
    """
    name = normalise_username(username)
    if not USERNAME_RE.match(name):
        raise ValidationFailed(
            "username must be 2-64 characters: lower-case letters, digits, '_', '.', '-'", field="username")
    if session.execute(select(Person.id).where(func.lower(Person.username) == name)).first() is not None:
        raise ValidationFailed(f"username {name!r} is already taken", field="username")
    if not (full_name or "").strip():
        raise ValidationFailed("full_name is required", field="full_name")
    if password_hash is None and len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="password")
    role_list = list(dict.fromkeys(roles))  # keep order, drop repeats
    if not role_list:
        raise ValidationFailed("at least one role is required", field="roles")
    unknown = [r for r in role_list if r not in ROLES]
    if unknown:
        raise ValidationFailed(f"unknown role {unknown[0]!r}; roles are {', '.join(ROLES)}", field="roles")
    department = session.get(Department, department_id) if department_id is not None else None
    if department_id is not None and department is None:
        raise ValidationFailed(f"department {department_id} does not exist", field="department_id")
    if department is not None and not department.active:
        raise ValidationFailed(f"department {department.code} is inactive", field="department_id")
    if "handler" in role_list and department_id is None:
        # A handler's scope is their department; without one they could see nothing.
        raise ValidationFailed("a handler needs a department", field="department_id")
    if center_id is not None and session.get(Center, center_id) is None:
        raise ValidationFailed(f"center {center_id} does not exist", field="center_id")

    person = Person(
        username=name, full_name=full_name.strip(),
        password_hash=password_hash if password_hash is not None else hash_password(password),
        department_id=department_id, center_id=center_id, phone=phone, email=email,
        channels=list(channels or []), locale=locale, active=True,
    )
    person.role_rows = [PersonRole(role=r) for r in role_list]
    session.add(person)
    session.flush()
    if commit:
        session.commit()
    return person


def generate_password() -> str:
    """12 random characters (``secrets``), shown once to the administrator; only the hash is kept."""
    return secrets.token_urlsafe(9)


def set_password(session: Session, person: Person, password: str, *, commit: bool = True) -> None:
    """Replace a person's password (argon2 hash)."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="password")
    person.password_hash = hash_password(password)
    if commit:
        session.commit()


def authenticate(session: Session, username: str, password: str) -> Person | None:
    """The active person with this username and password, or None.

    An unknown or inactive user costs one argon2 verification too (against a dummy hash).
    A hash made with older parameters is replaced at a successful sign-in.
    """
    name = normalise_username(username)
    person = session.execute(
        select(Person).where(func.lower(Person.username) == name)
    ).scalar_one_or_none() if name else None
    if person is None or not person.active or not person.password_hash:
        verify_password(_dummy(), password or "")
        return None
    if not verify_password(person.password_hash, password or ""):
        return None
    if needs_rehash(person.password_hash):
        person.password_hash = hash_password(password)
        session.commit()
        log.info("password hash of %s refreshed", person.username)
    return person
