"""Append entries to the ledger: numbered per item and hash-chained."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.models import LedgerEntry
from caseflow.security.actor import Actor


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and this entry's canonical JSON."""
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256((prev_hash + blob).encode("utf-8")).hexdigest()


def hashed_fields(e: LedgerEntry) -> dict[str, Any]:
    """The fields an entry's hash covers."""
    return {
        "item_type": e.item_type, "item_id": e.item_id, "seq": e.seq, "at": e.at.isoformat(),
        "actor_id": e.actor_id, "actor_role": e.actor_role, "client": e.client, "trigger": e.trigger,
        "from": e.from_state, "to": e.to_state, "workflow": e.workflow,
        "workflow_version": e.workflow_version, "payload": e.payload, "comment": e.comment,
    }


def append(
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
) -> LedgerEntry:
    """Add the item's next ledger entry. The caller holds the item's row lock."""
    last = session.execute(
        select(LedgerEntry.seq, LedgerEntry.hash)
        .where(LedgerEntry.item_type == item_type, LedgerEntry.item_id == item_id)
        .order_by(LedgerEntry.seq.desc())
        .limit(1)
    ).first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, "")
    entry = LedgerEntry(
        item_type=item_type, item_id=item_id, seq=seq, at=at, actor_id=actor.person_id,
        actor_role=role, client=actor.client, trigger=trigger, from_state=from_state,
        to_state=to_state, workflow=workflow, workflow_version=workflow_version,
        payload=payload or {}, comment=comment, prev_hash=prev_hash,
    )
    entry.hash = entry_hash(prev_hash, hashed_fields(entry))
    session.add(entry)
    return entry
