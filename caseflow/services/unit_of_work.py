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
def transaction(session: Session, effects: Effects | None = None) -> Iterator[Effects]:
    """Run the block as one transaction: commit it, then run the effects.

    Yields ``effects`` (a new ``Effects`` when none is given) for the block to record into.
    On any exception, from the block or from the commit, the session is rolled back, the
    effects are discarded (nothing left the database) and the exception propagates. The
    effects are dispatched only after a successful commit.

    A ``return`` inside the block still commits and dispatches: harmless after the block's
    own ``session.rollback()`` or ``session.commit()`` (a commit with no transaction open
    emits no SQL) as long as nothing was recorded and nothing was loaded since.
    """
    effects = effects if effects is not None else Effects()
    try:
        yield effects
        session.commit()
    except BaseException:
        session.rollback()
        effects.discard()
        raise
    effects.dispatch()


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
    try:
        with transaction(session, effects) as effects:
            yield effects
    except (StaleDataError, IntegrityError, OperationalError) as exc:
        # ``transaction`` has rolled back and discarded the effects.
        if isinstance(exc, OperationalError) and not is_lock_conflict(exc):
            raise
        raise (conflict() if conflict else Conflict(f"the {what} was changed by someone else; reload and try again")) from exc
    except BaseException as exc:
        record_audit(session, exc)
        raise
