"""What every case service shares: the read-only archive, and one transaction with its effects."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from caseflow.effects import Effects
from caseflow.errors import Conflict, InvalidTransition
from caseflow.models import Case, WorkflowItem
from caseflow.services.access import record_audit


def ensure_writable(item: WorkflowItem | None) -> None:
    """Refuse any change to an archived case (the archive is read-only)."""
    if isinstance(item, Case) and item.read_only:
        raise InvalidTransition(f"case {item.number} is archived and read-only", details={"state": item.state})


@contextmanager
def commit_or_rollback(session: Session, effects: Effects) -> Iterator[None]:
    """Run the block as one transaction: commit and dispatch effects, or roll back and drop them."""
    try:
        yield
        session.commit()
    except (StaleDataError, IntegrityError) as exc:
        session.rollback()
        effects.discard()
        raise Conflict("the case was changed by someone else; reload and try again") from exc
    except OperationalError:
        session.rollback()
        effects.discard()
        raise
    except BaseException as exc:
        session.rollback()
        effects.discard()
        record_audit(session, exc)
        raise
    effects.dispatch()
