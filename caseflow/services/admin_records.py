"""What the administration of organisation records (areas, grids, departments, categories, people) shares:
who may change them, locking one row, applying a change field by field, and the ledger.

Every change is ledgered on the record's own chain (item type ``area``, ``grid``, ``department``,
``category`` or ``person``; item id = the row's id), as the return report's one-click category
reassignment already is: ``create_<kind>``, ``update_<kind>`` (``payload.changes`` holds each
changed field as ``[before, after]``), ``deactivate_<kind>`` / ``reactivate_<kind>``, and for
people ``reset_password`` (never the password itself). Two administrators saving one record at
once collide on the chain's sequence number; the unit of work turns that into a Conflict.

Records are never deleted: deactivating hides one from new work while every row that names it
(cases, instructions, the ledger) keeps pointing at it.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from caseflow.errors import NotFound, ValidationFailed
from caseflow.models import LedgerEntry, utcnow
from caseflow.security.actor import Actor
from caseflow.services import ledger
from caseflow.services.access import admin_role
from caseflow.services.paging import Page, paged
from caseflow.services.unit_of_work import unit_of_work

T = TypeVar("T")

# Codes as the bulk import accepts them: stable identifiers used by import/export files.
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$")
NAME_MAX = 120
KINDS = ("area", "department", "category", "person", "grid")
WHAT = {"area": "areas", "department": "departments", "category": "categories", "person": "people", "grid": "grids"}


@dataclass
class Saved:
    """A record after a change, what changed, and what still names it (for the administrator to review).

    ``warnings``: ``(zh, en)`` notes, e.g. a deactivated person who is still a department's head.
    """

    record: Any
    changes: dict[str, list[Any]] = field(default_factory=dict)
    warnings: list[tuple[str, str]] = field(default_factory=list)


@contextmanager
def creating(session: Session, actor: Actor, kind: str, model: Any, code: Any) -> Iterator[tuple[str, str]]:
    """One transaction creating a record of ``kind``: yields ``(role, checked code)`` once the actor is
    an administrator and the code is well formed and free; commits after the block (a refusal is
    audited, everything rolled back)."""
    with unit_of_work(session, what=kind):
        role = require_admin(actor, f"create_{kind}", kind, f"{kind} {code}")
        checked = check_code(code)
        code_free(session, model, checked)
        yield role, checked


@contextmanager
def changing(session: Session, actor: Actor, kind: str, model: type[T], record_id: int,
             action: str) -> Iterator[tuple[str, T]]:
    """One transaction changing record ``record_id``: yields ``(role, the row locked)`` once the actor
    is an administrator (``NotFound`` for no such row); commits after the block."""
    with unit_of_work(session, what=kind):
        role = require_admin(actor, action, kind, f"{kind} {record_id}")
        yield role, lock(session, model, record_id, kind)


def list_by_code(session: Session, model: Any, *, active: bool | None, page: int, per_page: int) -> Page:
    """Records of ``model`` by code (ties by id), only active or inactive ones when ``active`` says so."""
    return paged(session, active_filter(select(model), model, active).order_by(model.code, model.id), page, per_page)


def require_admin(actor: Actor, action: str, kind: str, target: str) -> str:
    """The role the change is made in (``admin``; ``system`` from the command line); anyone else is
    refused and the refusal audited."""
    return admin_role(actor, action, target, WHAT[kind])


def lock(session: Session, model: type[T], record_id: int, kind: str) -> T:
    """The row, locked for the change; ``NotFound`` when there is none."""
    row = session.execute(select(model).where(model.id == record_id).with_for_update()).scalar_one_or_none()  # type: ignore[attr-defined]
    if row is None:
        raise NotFound(f"{kind} {record_id} not found")
    return row


def apply(record: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set each attribute of ``values`` that differs; returns ``{name: [before, after]}`` of those."""
    changes: dict[str, list[Any]] = {}
    for name, value in values.items():
        before = getattr(record, name)
        if before != value:
            setattr(record, name, value)
            changes[name] = [before, value]
    return changes


def record_change(session: Session, actor: Actor, role: str, kind: str, record: Any, trigger: str,
                  payload: dict[str, Any]) -> None:
    """Append the change to the record's ledger chain (flushes, so a new row has its id)."""
    session.flush()
    ledger.append(session, item_type=kind, item_id=record.id, trigger=trigger, actor=actor, role=role,
                  at=utcnow(), from_state=None, to_state=None, payload=payload)


def active_change(record: Any, active: bool, kind: str) -> str:
    """Set ``record.active``; the ledger trigger. ``ValidationFailed`` on ``active`` when it is already so."""
    if bool(record.active) == bool(active):
        state = "active" if active else "inactive"
        raise ValidationFailed(f"the {kind} is already {state}", field="active")
    record.active = bool(active)
    return f"{'reactivate' if active else 'deactivate'}_{kind}"


def known_values(values: Any, editable: tuple[str, ...], name: str = "name") -> dict[str, Any]:
    """Start checking a change: ``ValidationFailed`` naming the first field that cannot be changed
    this way (codes, usernames, anything unknown); ``{name: the checked name}`` when the change gives one."""
    unknown = sorted(set(values) - set(editable))
    if unknown:
        raise ValidationFailed(f"{unknown[0]} cannot be changed here", field=unknown[0])
    return {name: check_name(values[name], name)} if name in values else {}


def check_code(value: Any) -> str:
    """A code, stripped; ``ValidationFailed`` on ``code`` unless letters, digits, ``_ . -`` (at most 40)."""
    code = (value or "").strip() if isinstance(value, str) else ""
    if not CODE_RE.match(code):
        raise ValidationFailed("code must be 1-40 letters, digits, '_', '.' or '-', starting with a letter or digit",
                               field="code")
    return code


def check_name(value: Any, name: str = "name") -> str:
    """A required display name, stripped; ``ValidationFailed`` on ``name`` when blank or too long."""
    text = (value or "").strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationFailed(f"{name} is required", field=name)
    if len(text) > NAME_MAX:
        raise ValidationFailed(f"{name} must be at most {NAME_MAX} characters", field=name)
    return text


def check_choice(value: Any, choices: tuple[str, ...], name: str) -> str:
    """``value`` if it is one of ``choices``; ``ValidationFailed`` on ``name`` otherwise."""
    if value not in choices:
        raise ValidationFailed(f"{name} must be one of {', '.join(choices)}", field=name)
    return str(value)


def code_free(session: Session, model: Any, code: str) -> None:
    """``ValidationFailed`` on ``code`` when another row of ``model`` has it (any case)."""
    if session.execute(select(model.id).where(func.lower(model.code) == code.lower())).first() is not None:
        raise ValidationFailed(f"code {code!r} is already taken", field="code")


def active_filter(query: Select[Any], model: Any, active: bool | None) -> Select[Any]:
    """Only active (True), only inactive (False) or every row (None)."""
    return query if active is None else query.where(model.active.is_(bool(active)))


def history(session: Session, kind: str, record_id: int) -> list[LedgerEntry]:
    """The ledger of one record, oldest first."""
    if kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}", field="kind")
    return list(session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == kind, LedgerEntry.item_id == record_id).order_by(LedgerEntry.seq)).scalars())


def jsonable(value: Any) -> Any:
    """A value as the ledger's JSON payload keeps it (lists for sets)."""
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value)
    return value
