"""RQ jobs for deadlines: fire one (by id) and sweep."""
from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy.exc import DBAPIError, OperationalError

from .context import job_app

log = logging.getLogger(__name__)

# A dropped connection while firing is retried this many times, with these pauses (s).
RETRY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0)
# RQ keeps whole seconds; a job that arrives this much early (or less) waits in place.
MAX_WAIT_EARLY_S = 1.5
# With this many firing jobs waiting, a job also fires due rows in batches of BACKLOG_BATCH
# (at most BACKLOG_ROUNDS batches, a few seconds' work, well inside the job timeout).
BACKLOG_MIN = 3
BACKLOG_BATCH = 100
BACKLOG_ROUNDS = 20


def _is_disconnect(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def fire_deadline(deadline_id: int) -> str:
    """Fire deadline ``deadline_id``; never early, retried when the DB connection drops.

    Returns the outcome (``fired``, ``already fired``, ``stale``, ``rescheduled``...). If all
    retries fail the job fails: the row is still pending, so the sweeper fires it later.
    """
    from caseflow.deadlines import firing
    from caseflow.deadlines.scheduling import FIRE_JOB, ceil_second, deadline_job_id
    from caseflow.extensions import db, get_queue
    from caseflow.workflow.engine import get_catalog

    with job_app() as app:
        catalog = get_catalog(app)
        attempt = 0
        while True:
            try:
                outcome = firing.fire_deadline(db.session(), catalog, deadline_id)
            except Exception as exc:
                try:
                    db.session.rollback()
                except Exception:  # the connection may be gone; remove() below discards it
                    pass
                if not _is_disconnect(exc) or attempt >= len(RETRY_BACKOFF_S):
                    raise
                log.warning("deadline %s: database error while firing (%s); retry %d",
                            deadline_id, exc.__class__.__name__, attempt + 1)
                # A dropped connection is invalidated by SQLAlchemy; the next attempt gets a new one.
                db.session.close()
                time.sleep(RETRY_BACKOFF_S[attempt])
                attempt += 1
                continue
            if outcome.result != "early":
                _fire_backlog(catalog)
                return outcome.result
            if outcome.seconds_early <= MAX_WAIT_EARLY_S:
                # Sub-second rounding (or a worker clock a little ahead): wait, then fire.
                time.sleep(outcome.seconds_early + 0.01)
                continue
            # Far too early (clock skew): put it back on the scheduler for its due time.
            from caseflow.models import Deadline

            due = db.session.get(Deadline, deadline_id).due_at  # type: ignore[union-attr]
            db.session.rollback()
            get_queue(app.config["DEADLINE_QUEUE"]).enqueue_at(
                ceil_second(due + timedelta(milliseconds=1)), FIRE_JOB, deadline_id,
                job_id=f"{deadline_job_id(deadline_id)}-again-{int(time.time() * 1000)}",
                result_ttl=3600, failure_ttl=7 * 24 * 3600, job_timeout=120)
            return "rescheduled"


def _fire_backlog(catalog: object) -> None:
    """When due deadlines are queueing up (a burst), fire them in batches from this job.

    Best effort: a failed batch leaves every row to its own job, so errors only get logged.
    """
    from caseflow.deadlines.batch_firing import fire_due_batch
    from caseflow.deadlines.scheduling import backlog, unschedule
    from caseflow.extensions import db

    try:
        rounds, full = 0, False
        # Go on while batches come back full: more rows are due than RQ has queued yet (a
        # burst whose jobs the scheduler is still moving), so firing them now cuts their lag.
        while rounds < BACKLOG_ROUNDS and (full or backlog() >= BACKLOG_MIN):
            rounds += 1
            done = fire_due_batch(db.session(), catalog, limit=BACKLOG_BATCH).done  # type: ignore[arg-type]
            if not done:
                return
            unschedule(done)
            full = len(done) >= BACKLOG_BATCH
    except Exception:
        db.session.rollback()
        log.exception("firing the backlog failed; its deadlines keep their own jobs")


def sweep() -> str:
    """One sweep under the sweeper lock (for cron-style enqueueing); returns its summary."""
    from caseflow.deadlines.sweeper import locked_sweep
    from caseflow.extensions import db
    from caseflow.workflow.engine import get_catalog

    with job_app() as app:
        return str(locked_sweep(db.session(), get_catalog(app)))
