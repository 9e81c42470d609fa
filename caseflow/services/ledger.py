"""Append entries to the ledger: numbered per item and hash-chained."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from caseflow.models import ITEM_MODELS, LedgerEntry
from caseflow.security.actor import Actor


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and this entry's canonical JSON."""
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256((prev_hash + blob).encode("utf-8")).hexdigest()


# The fields an entry's hash covers: (name in the hashed JSON, column).
_HASHED = (("item_type", "item_type"), ("item_id", "item_id"), ("seq", "seq"), ("at", "at"),
           ("actor_id", "actor_id"), ("actor_role", "actor_role"), ("client", "client"), ("trigger", "trigger"),
           ("from", "from_state"), ("to", "to_state"), ("workflow", "workflow"),
           ("workflow_version", "workflow_version"), ("payload", "payload"), ("comment", "comment"))


def hashed_fields(e: LedgerEntry) -> dict[str, Any]:
    """The fields an entry's hash covers."""
    return _hashed_values({column: getattr(e, column) for _, column in _HASHED})


def _hashed_values(v: dict[str, Any]) -> dict[str, Any]:
    """:func:`hashed_fields` of the entry these column values make (before it exists)."""
    out = {name: v[column] for name, column in _HASHED}
    out["at"] = out["at"].isoformat()
    return out


def append(session: Session, **fields: Any) -> LedgerEntry:
    """Add the item's next ledger entry (the keywords of :func:`next_entry`). The caller holds
    the item's row lock.

    ``item``: the workflow item as loaded under that lock, whose ``ledger_seq``/``ledger_head``
    give the chain's head without reading the ledger. Workflow items always get their head
    columns updated (on the loaded object, or by an UPDATE when the session has none).
    """
    entry = LedgerEntry(**next_entry(session, **fields))
    session.add(entry)
    return entry


def insert_entry(session: Session, values: dict[str, Any]) -> None:
    """Write an entry made by :func:`next_entry` at once, with a Core INSERT.

    For the transition path, which has just flushed: the entry stays out of the ORM's unit of
    work (no object, no identity map entry, no flush bookkeeping), a cost paid on every
    transition. The row is exactly what :func:`append` writes: like the ORM, a ``None`` value
    leaves the column to its default.
    """
    # On the session's connection: no autoflush (the item's new head columns are written by
    # the caller's flush, as with append), nothing for the ORM to prepare.
    session.connection().execute(_INSERT_ENTRY, {k: v for k, v in values.items() if v is not None})


_INSERT_ENTRY = insert(LedgerEntry.__table__)


def next_entry(
    session: Session,
    *,
    item_type: str,
    item_id: int,
    trigger: str,
    actor: Actor,
    role: str,
    at: datetime,
    from_state: str | None,
    to_state: str | None,
    workflow: str = "",
    workflow_version: int = 0,
    payload: dict[str, Any] | None = None,
    comment: str = "",
    item: Any = None,
) -> dict[str, Any]:
    """The column values of the item's next entry, hashed; moves the chain's head to it.

    What :func:`append` adds and :func:`insert_entry` writes (see :func:`append` for ``item``).
    """
    key = (item_type, item_id)
    head = _heads(session).get(key)
    if item is not None:
        if head is None and inspect(item).persistent:
            head = (item.ledger_seq or 0, item.ledger_head or "")
    else:
        # Not handed over: a copy the session happens to hold may predate the lock, so read
        # the head from the ledger as always, and only keep the copy's columns in step.
        item = _loaded_item(session, item_type, item_id)
    if head is None:
        last = session.execute(
            select(LedgerEntry.seq, LedgerEntry.hash)
            .where(LedgerEntry.item_type == item_type, LedgerEntry.item_id == item_id)
            .order_by(LedgerEntry.seq.desc())
            .limit(1)
        ).first()
        head = (last[0], last[1]) if last else (0, "")
    seq, prev_hash = head[0] + 1, head[1]
    values: dict[str, Any] = {
        "item_type": item_type, "item_id": item_id, "seq": seq, "at": at, "actor_id": actor.person_id,
        "actor_role": role, "client": actor.client, "trigger": trigger, "from_state": from_state,
        "to_state": to_state, "workflow": workflow, "workflow_version": workflow_version,
        "payload": payload or {}, "comment": comment, "prev_hash": prev_hash,
    }
    values["hash"] = entry_hash(prev_hash, _hashed_values(values))
    _heads(session)[key] = (seq, values["hash"])
    if item is not None:
        item.ledger_seq, item.ledger_head = seq, values["hash"]
    elif item_type in ITEM_MODELS:
        model = ITEM_MODELS[item_type]
        session.execute(update(model).where(model.id == item_id)
                        .values(ledger_seq=seq, ledger_head=values["hash"])
                        .execution_options(synchronize_session=False))
    return values


def _loaded_item(session: Session, item_type: str, item_id: int) -> Any:
    """The item if this session has it loaded (no query), else None."""
    model = ITEM_MODELS.get(item_type)
    if model is None:
        return None
    return session.identity_map.get(identity_key(model, item_id))


def new_chain(session: Session, item_type: str, item_id: int) -> None:
    """Note that an item inserted in this transaction has no entries yet (saves reading them)."""
    _heads(session).setdefault((item_type, item_id), (0, ""))


def _heads(session: Session) -> dict[tuple[str, int], tuple[int, str]]:
    """Chain heads appended in the session's current transaction (item locks make them valid
    until it ends; a new transaction starts with an empty map). Saves re-reading the head when
    one transaction appends several entries to an item (a deadline firing and its trigger)."""
    tx = session.get_transaction()
    cached = session.info.get(_HEADS_KEY)
    if cached is None or cached[0] is not tx or tx is None:
        cached = (tx, {})
        if tx is not None:
            session.info[_HEADS_KEY] = cached
    return cached[1]


_HEADS_KEY = "caseflow.ledger_heads"
