"""The sweeper: the database is the truth, Redis only the alarm clock.

Every ``SWEEP_INTERVAL_S`` one sweeper (whichever worker wins the lock) does three things:

1. **Fire overdue rows.** A pending row whose due time passed more than ``SWEEP_GRACE_S``
   ago lost its alarm (Redis flushed, scheduler dead, worker killed mid-job): fire it here,
   directly, one transaction per row via :func:`caseflow.deadlines.firing.fire_deadline`.
   Firing is idempotent, so racing an RQ job that arrives late is harmless.
2. **Re-arm rows about to fall due.** A pending row due within the look-ahead window that
   has no RQ job (e.g. after ``FLUSHALL``) is scheduled again, so it still fires on time.
   Rows further ahead are re-armed by a later sweep: every row passes through the window.
3. **Housekeeping**: running escalation chains switched to their emergency variants where a
   center is in emergency mode, the late-handover deadline of shifts on duty without one,
   escalation steps and outbox deliveries that are due, handover reminders, duty-rota gap
   warnings, and the periodic reports that are due (each idempotent).

Hence the guarantee: after any fault a deadline is late by at most one sweep period
(plus the grace), and never early.
"""
from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from caseflow.models import Deadline, utcnow
from caseflow.workflow.engine import WorkflowCatalog

from .firing import fire_deadline
from .scheduling import deadline_job_id, schedule_deadline

log = logging.getLogger(__name__)

# One advisory-lock key for "the sweeper" (a stable 31-bit number derived from its name).
ADVISORY_KEY = zlib.crc32(b"caseflow.deadlines.sweeper") & 0x7FFFFFFF
REDIS_LOCK_KEY = "caseflow:sweeper-lock"


@dataclass
class SweepReport:
    """What one sweep did."""

    fired: int = 0
    noop: int = 0
    failed: int = 0
    rearmed: int = 0
    housekeeping: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False  # another sweeper held the lock
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if self.skipped:
            return "sweep skipped: another sweeper is running"
        return (f"sweep: fired={self.fired} noop={self.noop} failed={self.failed} "
                f"rearmed={self.rearmed} "
                + " ".join(f"{k}={v if isinstance(v, int) else len(v or [])}" for k, v in self.housekeeping.items()))


def _setting(name: str, default: Any) -> Any:
    from flask import current_app, has_app_context

    return current_app.config.get(name, default) if has_app_context() else default


def overdue_ids(session: Session, cutoff: datetime, limit: int) -> list[int]:
    """Ids of pending rows due at or before ``cutoff``, oldest first."""
    ids = list(session.execute(
        select(Deadline.id).where(Deadline.status == "pending", Deadline.due_at <= cutoff)
        .order_by(Deadline.due_at, Deadline.id).limit(limit)
    ).scalars())
    session.rollback()  # end the read transaction: each firing takes its own
    return ids


def fire_overdue(session: Session, catalog: WorkflowCatalog, cutoff: datetime, *, limit: int,
                 report: SweepReport, budget_s: float | None = None) -> None:
    """Fire pending rows due before ``cutoff`` in batches of ``limit``, each in its own transaction."""
    started = time.monotonic()
    seen: set[int] = set()
    while True:
        batch = [i for i in overdue_ids(session, cutoff, limit) if i not in seen]
        if not batch:
            return
        for deadline_id in batch:
            seen.add(deadline_id)
            try:
                outcome = fire_deadline(session, catalog, deadline_id)
            except Exception as exc:  # one bad row must not stop the sweep
                session.rollback()
                report.failed += 1
                report.errors.append(f"deadline {deadline_id}: {exc.__class__.__name__}: {exc}")
                log.exception("sweeper could not fire deadline %s", deadline_id)
                continue
            if outcome.result == "fired":
                report.fired += 1
            else:
                report.noop += 1
        if budget_s is not None and time.monotonic() - started > budget_s:
            return


def rearm_missing(session: Session, redis_conn: Any, now: datetime, horizon: timedelta) -> int:
    """Schedule pending rows due in ``(now, now + horizon]`` whose RQ job is gone."""
    rows = session.execute(
        select(Deadline.id, Deadline.due_at).where(
            Deadline.status == "pending", Deadline.due_at > now, Deadline.due_at <= now + horizon)
    ).all()
    session.rollback()
    if not rows:
        return 0
    from rq.job import Job

    with redis_conn.pipeline(transaction=False) as pipe:
        for row in rows:
            pipe.exists(Job.key_for(deadline_job_id(row.id)))
        exists = pipe.execute()
    missing = [row for row, present in zip(rows, exists) if not present]
    if missing:
        # A row may have been fired (and its job removed) since it was read: ask again.
        still = set(session.execute(select(Deadline.id).where(
            Deadline.id.in_([r.id for r in missing]), Deadline.status == "pending")).scalars())
        session.rollback()
        missing = [r for r in missing if r.id in still]
    rearmed = 0
    for row in missing:
        schedule_deadline(row.id, row.due_at)
        rearmed += 1
    if rearmed:
        log.warning("sweeper re-armed %d deadline(s) that had no RQ job", rearmed)
    return rearmed


def _gap_warnings(session: Session, now: datetime) -> int:
    from caseflow.models import Center
    from caseflow.services.duty.rota import warn_gaps

    # Idempotent per gap, so running it every sweep warns each gap once, days ahead.
    return sum(len(warn_gaps(session, cid, now=now)) for cid in session.execute(select(Center.id)).scalars())


def _housekeeping(catalog: WorkflowCatalog) -> list[tuple[str, Any]]:
    """The periodic steps besides deadlines, in order: (name, fn(session, now))."""
    from caseflow.deadlines import escalation
    from caseflow.deadlines.emergency_switch import switch_running_chains
    from caseflow.jobs.reports import enqueue_due_reports
    from caseflow.notify import outbox
    from caseflow.services.duty.handover import send_reminders
    from caseflow.services.duty.handover_clock import arm_missing

    return [
        # Before the escalation step, so a switched run's round that is due now goes this sweep.
        ("emergency_chains", lambda s, now: switch_running_chains(s, catalog, now=now)),
        ("handover_deadlines", lambda s, now: arm_missing(s, catalog, now)),
        ("escalations", lambda s, now: escalation.sweep_due(s, catalog, now)),
        ("notifications", outbox.sweep_due),
        ("handover_reminders", lambda s, now: send_reminders(s, now=now)),
        ("duty_gaps", _gap_warnings),
        ("reports", enqueue_due_reports),
    ]


def _run_housekeeping(session: Session, catalog: WorkflowCatalog, now: datetime, report: SweepReport) -> None:
    # Each step is isolated: one failing (e.g. SMTP settings) must not stop the others.
    for name, step in _housekeeping(catalog):
        try:
            report.housekeeping[name] = step(session, now)
        except Exception as exc:
            session.rollback()
            report.errors.append(f"{name}: {exc}")
            log.exception("sweeper step %s failed", name)


def sweep_once(session: Session, catalog: WorkflowCatalog, now: datetime | None = None, *,
               limit: int = 500, redis_conn: Any = None, grace_s: float | None = None,
               horizon_s: float | None = None, budget_s: float | None = None) -> SweepReport:
    """One sweep without taking the lock (callers use :func:`locked_sweep`, tests call it directly).

    ``grace_s`` (default ``SWEEP_GRACE_S``, 3 s) keeps the sweeper from racing RQ jobs that
    are merely a moment late; ``horizon_s`` (default two sweep periods) is the re-arm window.
    """
    now = now or utcnow()
    report = SweepReport()
    interval = float(_setting("SWEEP_INTERVAL_S", 15))
    grace = float(_setting("SWEEP_GRACE_S", 3) if grace_s is None else grace_s)
    horizon = float(2 * interval + 5 if horizon_s is None else horizon_s)
    fire_overdue(session, catalog, now - timedelta(seconds=grace), limit=limit, report=report,
                 budget_s=budget_s)
    if redis_conn is None:
        from caseflow.extensions import get_redis

        redis_conn = get_redis()
    try:
        report.rearmed = rearm_missing(session, redis_conn, utcnow(), timedelta(seconds=horizon))
    except Exception as exc:  # Redis down: overdue rows are still fired by the next sweep
        session.rollback()
        report.errors.append(f"re-arm: {exc}")
        log.warning("sweeper could not re-arm deadlines: %s", exc)
    _run_housekeeping(session, catalog, utcnow(), report)
    return report


@contextmanager
def sweeper_lock(session: Session, redis_conn: Any = None, ttl_s: float = 60) -> Iterator[bool]:
    """Hold the one-sweeper lock for the block; yields False if another sweeper holds it.

    PostgreSQL: a transaction-scoped advisory lock on a connection of its own, released
    when the block ends or the process dies. SQLite: a Redis ``SET NX PX`` lease.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        with bind.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
            try:
                yield bool(got)
            finally:
                conn.rollback()  # ends the transaction, releasing the lock
        return
    import secrets

    if redis_conn is None:
        from caseflow.extensions import get_redis

        redis_conn = get_redis()
    token = secrets.token_hex(8)
    got = bool(redis_conn.set(REDIS_LOCK_KEY, token, nx=True, px=int(ttl_s * 1000)))
    try:
        yield got
    finally:
        if got:
            # Compare-and-delete: never release a lease that expired and went to another sweeper.
            redis_conn.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end "
                            "return 0", 1, REDIS_LOCK_KEY, token)


def locked_sweep(session: Session, catalog: WorkflowCatalog, *, limit: int = 500,
                 redis_conn: Any = None) -> SweepReport:
    """Run :func:`sweep_once` if this process wins the sweeper lock."""
    interval = float(_setting("SWEEP_INTERVAL_S", 15))
    with sweeper_lock(session, redis_conn, ttl_s=max(30.0, 4 * interval)) as got:
        if not got:
            return SweepReport(skipped=True)
        # Stop firing after ~an interval so the loop comes round to re-arming and the outbox.
        return sweep_once(session, catalog, limit=limit, redis_conn=redis_conn, budget_s=max(5.0, interval))
