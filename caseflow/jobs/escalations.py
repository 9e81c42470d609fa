"""RQ job for escalation chains: run a run's due round (by id)."""
from __future__ import annotations

import logging
import time

from .context import job_app

log = logging.getLogger(__name__)

# RQ keeps whole seconds; a round that arrives this much early (or less) waits in place.
MAX_WAIT_EARLY_S = 1.5


def advance_escalation(run_id: int) -> str:
    """Run escalation run ``run_id``'s due round; returns the outcome of
    :func:`caseflow.deadlines.escalation.advance` (``notified``, ``stopped``, ``early``...).

    A round far too early (clock skew) is left to the sweeper, which enqueues every active
    run whose ``next_at`` has passed.
    """
    from sqlalchemy import select

    from caseflow.deadlines import escalation
    from caseflow.extensions import db
    from caseflow.models import EscalationRun, utcnow
    from caseflow.workflow.engine import get_catalog

    with job_app() as app:
        catalog = get_catalog(app)
        outcome = escalation.advance(db.session(), catalog, run_id)
        if outcome != "early":
            return outcome
        next_at = db.session.execute(select(EscalationRun.next_at).where(EscalationRun.id == run_id)).scalar()
        db.session.rollback()
        wait = (next_at - utcnow()).total_seconds() if next_at is not None else None
        if wait is not None and wait <= MAX_WAIT_EARLY_S:
            time.sleep(max(wait, 0) + 0.01)
            return escalation.advance(db.session(), catalog, run_id)
        log.warning("escalation %s: job arrived %.1f s early; the sweeper will run it", run_id, wait or 0)
        return outcome
