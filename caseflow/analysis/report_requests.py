"""Reports on demand: asked for in a request, built by an RQ job.

A yearly report over a year of a million cases takes about a minute to build, longer than a web
request may last (gunicorn's 30 s timeout). So the console and the API only record the request,
the period's ``stored_report`` row set to "pending", and enqueue
:func:`caseflow.jobs.reports.generate_requested` after the commit, on ``REPORTS_QUEUE`` (a worker
of its own: deadline workers never wait behind a report); the job builds the report and marks the
row "ready", or "failed" with the error. A regeneration keeps the earlier data on the
row meanwhile.

Small periods are still built inside the request (``REPORTS_SYNC_KINDS``, by default day, week
and month: a month of a year of a million cases builds in under 2 s, bench/reports.py), so their
answer is complete at once. An empty setting sends every kind to the job.

Asking again while a generation is pending enqueues nothing: the job id is the period's
(``report-<kind>-<YYYYMMDD>``) and a job still queued or running is found. A pending row whose job
is gone (Redis flushed, a work-horse killed before its failure was recorded) is "stalled":
asking again enqueues a new job.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caseflow.models import utcnow
from caseflow.models.analysis import StoredReport

from .periods import KINDS, Period, parse_period
from .reports import build_report, save_report, store_report

log = logging.getLogger(__name__)

DEFAULT_SYNC_KINDS = ("day", "week", "month")
# A request's job is enqueued just after its commit: a pending row this young counts as in flight
# even before its job shows in Redis (two requests at once must not enqueue two jobs).
ENQUEUE_GRACE = timedelta(seconds=30)
ERROR_MAX = 2000
# What a report shows as its state: the stored status, or "stalled" for a pending one no job fills in.
STATES = ("pending", "ready", "failed", "stalled")


@dataclass
class Requested:
    """What :func:`request_report` did: ``generated`` (built in this call), ``enqueued`` (a job was
    queued now), or neither (a generation of that period was already pending)."""

    row: StoredReport
    generated: bool = False
    enqueued: bool = False

    @property
    def pending(self) -> bool:
        """True when the report is still to be built by a job."""
        return not self.generated and self.row.status == "pending"


def job_id(kind: str, first_day: Any) -> str:
    """The RQ job id of the generation of one period (no colons: RQ 2)."""
    return f"report-{kind}-{first_day:%Y%m%d}"


def sync_kinds() -> frozenset[str]:
    """The report kinds built inside the request (``REPORTS_SYNC_KINDS``, comma-separated)."""
    from flask import current_app, has_app_context

    raw = current_app.config.get("REPORTS_SYNC_KINDS") if has_app_context() else None
    if raw is None:
        return frozenset(DEFAULT_SYNC_KINDS)
    names = raw.split(",") if isinstance(raw, str) else list(raw)
    return frozenset(k.strip() for k in names if k.strip() in KINDS)


def _queue(queue: Any) -> Any:
    if queue is not None:
        return queue
    from caseflow.jobs.reports import reports_queue

    return reports_queue()


def _in_flight(row: StoredReport, queue: Any, now: datetime) -> bool:
    """True when a job will still fill in the pending ``row``."""
    if row.status != "pending":
        return False
    if row.requested_at is not None and now - row.requested_at < ENQUEUE_GRACE:
        return True
    from caseflow.jobs.reports import job_alive

    try:
        return job_alive(_queue(queue), job_id(row.kind, row.period_start))
    except Exception:  # Redis unreachable: we cannot tell; do not enqueue a second job blindly
        log.warning("could not look up the job of report %s", row.id, exc_info=True)
        return True


def state(row: StoredReport, queue: Any = None, now: datetime | None = None) -> str:
    """The report's state: ``ready``, ``failed``, ``pending`` (a job will fill it in) or ``stalled``
    (pending, but its job is gone: ask again)."""
    if row.status != "pending":
        return row.status
    return "pending" if _in_flight(row, queue, now or utcnow()) else "stalled"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:ERROR_MAX]


def request_report(session: Session, period: Period, *, generated_by_id: int | None = None,
                   synchronous: bool | None = None, queue: Any = None, now: datetime | None = None) -> Requested:
    """Ask for the report of ``period``: build it now (``synchronous``; by default the kinds in
    ``REPORTS_SYNC_KINDS``) or mark its row pending and enqueue the job after the commit.

    Idempotent while pending: a generation of the period already in flight is returned as it is.
    If the job cannot be queued, the row is marked failed with the reason. Commits.
    """
    now = now or utcnow()
    if synchronous is None:
        synchronous = period.kind in sync_kinds()
    for attempt in range(2):
        row = session.execute(select(StoredReport).where(
            StoredReport.kind == period.kind, StoredReport.period_start == period.first_day)
            .with_for_update()).scalar_one_or_none()
        if row is not None and _in_flight(row, queue, now):
            session.rollback()
            return Requested(row)
        if synchronous:
            session.rollback()
            return Requested(store_report(session, period, generated_by_id=generated_by_id), generated=True)
        if row is None:
            row = StoredReport(kind=period.kind, period_start=period.first_day, data={}, duration_ms=0,
                               generated_at=now)
            session.add(row)
        row.start_at, row.end_at = period.start_at, period.end_at
        row.status, row.error, row.requested_at, row.generated_by_id = "pending", None, now, generated_by_id
        try:
            session.commit()
            break
        except IntegrityError:  # another request created the period's row first: look again
            session.rollback()
            if attempt:
                raise
    from caseflow.jobs.reports import enqueue_requested

    try:  # after the commit: the job must find its row
        enqueue_requested(_queue(queue), row.id, job_id(row.kind, row.period_start))
    except Exception as exc:
        log.exception("could not enqueue the generation of report %s", row.id)
        mark_failed(session, row.id, "could not queue the generation: " + _describe(exc))
        return Requested(row)
    return Requested(row, enqueued=True)


def mark_failed(session: Session, report_id: int, error: str) -> bool:
    """Mark the pending report ``report_id`` failed with ``error``; False if it is not pending. Commits."""
    row = session.execute(select(StoredReport).where(StoredReport.id == report_id).with_for_update()) \
        .scalar_one_or_none()
    if row is None or row.status != "pending":
        session.rollback()
        return False
    row.status, row.error = "failed", error[:ERROR_MAX]
    session.commit()
    return True


def run_requested(session: Session, report_id: int, *, as_of: datetime | None = None) -> StoredReport | None:
    """The job's work: build the pending report ``report_id`` and store it (ready).

    Nothing happens unless the row is still pending (a second run of the job is harmless). On an
    error the row is marked failed with it, and the error is raised again (RQ records it too).
    """
    row = session.get(StoredReport, report_id)
    if row is None or row.status != "pending":
        session.rollback()
        return None
    period = parse_period(row.kind, row.period_start)
    by = row.generated_by_id
    session.rollback()  # no transaction stays open while the report builds
    try:
        data = build_report(session, period, as_of=as_of)
        return save_report(session, period, data, generated_by_id=by)
    except Exception as exc:
        session.rollback()
        mark_failed(session, report_id, _describe(exc))
        raise


__all__ = ["DEFAULT_SYNC_KINDS", "STATES", "Requested", "job_id", "sync_kinds", "state", "request_report",
           "mark_failed", "run_requested"]
