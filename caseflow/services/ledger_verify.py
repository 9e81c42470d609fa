"""Tamper evidence: walk every item's hash chain and name the first row that breaks it."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.models import ITEM_MODELS, LedgerEntry

from .ledger import entry_hash, hashed_fields


@dataclass(frozen=True)
class LedgerProblem:
    """One break in one item's chain."""

    item_type: str
    item_id: int
    entry_id: int | None
    seq: int | None
    problem: str

    def __str__(self) -> str:
        where = f"entry id={self.entry_id} seq={self.seq}" if self.entry_id is not None else "item"
        return f"{self.item_type} {self.item_id}: {where}: {self.problem}"


def _entries(session: Session, batch: int = 5000) -> Iterator[LedgerEntry]:
    stmt = select(LedgerEntry).order_by(LedgerEntry.item_type, LedgerEntry.item_id, LedgerEntry.seq,
                                        LedgerEntry.id).execution_options(yield_per=batch, populate_existing=True)
    yield from session.execute(stmt).scalars()


def verify_chain(entries: list[LedgerEntry]) -> list[LedgerProblem]:
    """Problems in one item's entries (ordered by seq): edits, gaps, reordering, duplicates."""
    problems: list[LedgerProblem] = []
    prev_hash = ""
    expected_seq = 1
    for e in entries:
        def report(msg: str, e: LedgerEntry = e) -> None:
            problems.append(LedgerProblem(e.item_type, e.item_id, e.id, e.seq, msg))

        if e.seq != expected_seq:
            report(f"sequence jumps from {expected_seq - 1} to {e.seq}: an entry was deleted or renumbered")
        if e.prev_hash != prev_hash:
            report("does not follow the previous entry (deleted, inserted or reordered rows)")
        if entry_hash(e.prev_hash, hashed_fields(e)) != e.hash:
            report("content does not match its hash (edited)")
        prev_hash = e.hash
        expected_seq = e.seq + 1
    return problems


def verify_ledger(session: Session) -> tuple[int, list[LedgerProblem]]:
    """Check every chain, and that each item's state and chain head match its last entry.

    The item checks catch a deleted final entry, which a chain alone cannot show.
    Returns (entries checked, problems).
    """
    problems: list[LedgerProblem] = []
    checked = 0
    last_state: dict[tuple[str, int], str | None] = {}
    last_head: dict[tuple[str, int], tuple[int, str]] = {}
    current: list[LedgerEntry] = []
    for e in _entries(session):
        checked += 1
        if current and (current[0].item_type, current[0].item_id) != (e.item_type, e.item_id):
            problems.extend(verify_chain(current))
            last_state[(current[0].item_type, current[0].item_id)] = current[-1].to_state
            last_head[(current[0].item_type, current[0].item_id)] = (current[-1].seq, current[-1].hash)
            current = []
        current.append(e)
    if current:
        problems.extend(verify_chain(current))
        last_state[(current[0].item_type, current[0].item_id)] = current[-1].to_state
        last_head[(current[0].item_type, current[0].item_id)] = (current[-1].seq, current[-1].hash)
    for item_type, model in ITEM_MODELS.items():
        rows = session.execute(select(model.id, model.state, model.ledger_seq, model.ledger_head))
        for item_id, state, head_seq, head_hash in rows:
            key = (item_type, item_id)
            if key not in last_state:
                problems.append(LedgerProblem(item_type, item_id, None, None, "has no ledger entries"))
                continue
            if last_head[key] != (head_seq, head_hash):
                problems.append(LedgerProblem(
                    item_type, item_id, None, None,
                    f"its chain head is entry {head_seq} but the ledger ends at entry {last_head[key][0]}"
                    " (final entries deleted or replaced, or the item's head edited)"))
            if last_state[key] != state:
                problems.append(LedgerProblem(item_type, item_id, None, None,
                                              f"is '{state}' but its last ledger entry leaves it '{last_state[key]}'"
                                              " (final entry deleted, or state edited)"))
    return checked, problems
