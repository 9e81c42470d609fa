"""One transaction with its after-commit effects: the shape every service shares."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from caseflow.effects import Effects
from caseflow.errors import Conflict

from .access import record_audit


def is_lock_conflict(exc: OperationalError) -> bool:
    """True when the database refused because another transaction won (not a broken connection)."""
    text = str(exc.orig).lower() if exc.orig else str(exc).lower()
    return "deadlock" in text or "could not serialize" in text or "database is locked" in text


@contextmanager
def unit_of_work(
    session: Session,
    effects: Effects | None = None,
    *,
    what: str = "item",
    conflict: Callable[[], Conflict] | None = None,
) -> Iterator[Effects]:
    """Run the block as one transaction; commit, then run the effects.

    A lost race (stale version, unique violation, lock conflict) becomes ``Conflict`` (made by
    ``conflict`` when given); any other error rolls back, keeps the denial it carries for
    audit, and propagates. On any error the effects are dropped: nothing left the database.
    """
    effects = effects if effects is not None else Effects()
    try:
        yield effects
        session.commit()
    except (StaleDataError, IntegrityError, OperationalError) as exc:
        session.rollback()
        effects.discard()
        if isinstance(exc, OperationalError) and not is_lock_conflict(exc):
            raise
        raise (conflict() if conflict else Conflict(f"the {what} was changed by someone else; reload and try again")) from exc
    except BaseException as exc:
        session.rollback()
        effects.discard()
        record_audit(session, exc)
        raise
    effects.dispatch()
