"""What every case service shares: the read-only archive, and one transaction with its effects."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.errors import InvalidTransition
from caseflow.models import Case, WorkflowItem
from caseflow.services.unit_of_work import unit_of_work


def ensure_writable(item: WorkflowItem | None) -> None:
    """Refuse any change to an archived case (the archive is read-only)."""
    if isinstance(item, Case) and item.read_only:
        raise InvalidTransition(f"case {item.number} is archived and read-only", details={"state": item.state})


@contextmanager
def commit_or_rollback(session: Session, effects: Effects) -> Iterator[None]:
    """Run the block as one transaction: commit and dispatch effects, or roll back and drop them."""
    with unit_of_work(session, effects, what="case"):
        yield
