"""What a guard or action is handed while a transition runs."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from caseflow.effects import Effects
    from caseflow.security.actor import Actor


@dataclass
class TransitionContext:
    """Per-call context: the session, who acts, the request data and the effects to run later."""

    session: Session
    actor: Actor
    role: str
    trigger: str
    data: dict[str, Any]
    effects: Effects
    now: datetime
    comment: str = ""
    failed_guard: str | None = None
    # Actions may add facts for the ledger entry's payload here.
    ledger_extra: dict[str, Any] = field(default_factory=dict)
