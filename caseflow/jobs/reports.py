"""RQ jobs for the period reports (日研判、周提示、月通报、季分析、年总结).

Queue: every report job (scheduled and on demand) goes to ``REPORTS_QUEUE`` (:func:`reports_queue`),
never to the queues a deadline worker serves: a yearly report takes about a minute over a million
cases, and a ``SimpleWorker`` busy with it would fire no deadline meanwhile. ``caseflow worker``
leaves that queue out by default; ``caseflow worker --queues reports`` serves it (``caseflow up``
starts one, deploy/ has its unit and compose service).

Scheduling: the reports fall due at local midnight after their period (a week's on Monday,
a month's on the 1st...). :func:`enqueue_due_reports` has the sweeper housekeeping signature
``fn(session, now)``: run every sweep it costs five indexed look-ups, and when a report is
due it enqueues :func:`generate_due` once (job id ``reports-<kind>-<start>``, so repeated
sweeps do not pile up jobs). Without the sweeper, a cron line does the same:
``caseflow reports generate-due`` (every few minutes, or at 00:05 daily).
:func:`generate_due_reports` is idempotent: a period already stored is skipped.

On demand (console, API): :func:`caseflow.analysis.report_requests.request_report` marks the
period's row pending and enqueues :func:`generate_requested` (job id ``report-<kind>-<YYYYMMDD>``)
after its commit; the job fills the row in or marks it failed with the error. Its failure
callback :func:`report_job_failed` also marks it failed when the work-horse died (RQ then finds
the job abandoned).
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from caseflow.analysis.reports import due_periods, generate_due_reports

from .context import job_app

log = logging.getLogger(__name__)

__all__ = ["generate_due_reports", "enqueue_due_reports", "reports_queue", "generate_due", "generate_report",
           "generate_requested", "report_job_failed", "enqueue_requested", "job_alive"]

# Long enough for a yearly report over several million cases (about a minute per million).
JOB_TIMEOUT_S = 1800


def reports_queue(app: Any = None) -> Any:
    """The RQ queue of report jobs (``REPORTS_QUEUE``) of ``app`` (default: the current app)."""
    from flask import current_app

    from caseflow.extensions import get_queue

    config = (app or current_app).config
    return get_queue(str(config.get("REPORTS_QUEUE") or "reports"), app)


def generate_due() -> list[str]:
    """RQ job: generate and store every due report; returns ``kind:start`` of each made."""
    from caseflow.extensions import db

    with job_app():
        made = generate_due_reports(db.session())
        if made:
            log.info("reports generated: %s", ", ".join(made))
        return made


def generate_report(kind: str, start: str, generated_by_id: int | None = None) -> int:
    """RQ job: (re)generate the report of ``kind`` containing local day ``start``; returns its id."""
    from caseflow.analysis.periods import parse_period
    from caseflow.analysis.reports import store_report
    from caseflow.extensions import db

    with job_app():
        row = store_report(db.session(), parse_period(kind, start), generated_by_id=generated_by_id)
        return row.id


def generate_requested(report_id: int) -> int | None:
    """RQ job: build the pending report ``report_id`` and store it; returns its id (None: not pending).

    On an error the report is marked failed with it, and the job fails (RQ keeps the traceback).
    """
    from caseflow.analysis.report_requests import run_requested
    from caseflow.extensions import db

    with job_app():
        row = run_requested(db.session(), report_id)
        return row.id if row is not None else None


def report_job_failed(job: Any, connection: Any, exc_type: type[BaseException], exc_value: BaseException,
                      tb: Any) -> None:
    """RQ failure callback of :func:`generate_requested`: the report is marked failed if it is still
    pending, which is the case when the job was abandoned (work-horse killed) or timed out before
    it could record its own error."""
    from caseflow.analysis.report_requests import mark_failed
    from caseflow.extensions import db

    text = str(exc_value).strip()
    error = f"{exc_type.__name__}: {text}" if text else exc_type.__name__
    if exc_type.__name__ == "AbandonedJobError":
        error += " (the worker stopped while generating the report)"
    with job_app():
        if mark_failed(db.session(), int(job.args[0]), error):
            log.warning("report %s marked failed by its job's failure callback: %s", job.args[0], error)


def job_alive(queue: Any, job_id: str) -> bool:
    """True when the job ``job_id`` will still run or is running (queued, started, scheduled, deferred).

    A "queued" job hash whose queue lost it (flushed, deleted) does not count.
    """
    existing = queue.fetch_job(job_id)
    if existing is None:
        return False
    status = existing.get_status(refresh=True)
    return status in ("started", "scheduled", "deferred") or (
        status == "queued" and queue.get_job_position(job_id) is not None)


def enqueue_requested(queue: Any, report_id: int, job_id: str) -> None:
    """Enqueue :func:`generate_requested` for the pending report (call after the commit, and only
    when :func:`job_alive` says no job of that id will run)."""
    from rq import Callback

    old = queue.fetch_job(job_id)
    if old is not None:  # the period's finished or failed run: its hash and registry entries go
        old.delete()
    queue.enqueue("caseflow.jobs.reports.generate_requested", report_id, job_id=job_id, job_timeout=JOB_TIMEOUT_S,
                  result_ttl=86400, failure_ttl=7 * 86400,
                  on_failure=Callback("caseflow.jobs.reports.report_job_failed"))


def enqueue_due_reports(session: Session, now: datetime, queue: Any = None) -> int:
    """Enqueue :func:`generate_due` when a report is due (sweeper housekeeping step); returns 0 or 1."""
    due = due_periods(session, now)
    if not due:
        return 0
    if queue is None:
        queue = reports_queue()
    job_id = "reports-" + "-".join(f"{p.kind}{p.first_day:%Y%m%d}" for p in due)
    if job_alive(queue, job_id):
        return 0
    queue.enqueue("caseflow.jobs.reports.generate_due", job_id=job_id, job_timeout=JOB_TIMEOUT_S, result_ttl=86400)
    return 1
