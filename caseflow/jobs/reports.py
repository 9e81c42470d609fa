"""RQ jobs for the period reports (日研判、周提示、月通报、季分析、年总结).

Scheduling: the reports fall due at local midnight after their period (a week's on Monday,
a month's on the 1st...). :func:`enqueue_due_reports` has the sweeper housekeeping signature
``fn(session, now)``: run every sweep it costs five indexed look-ups, and when a report is
due it enqueues :func:`generate_due` once (job id ``reports-<kind>-<start>``, so repeated
sweeps do not pile up jobs). Without the sweeper, a cron line does the same:
``caseflow reports generate-due`` (every few minutes, or at 00:05 daily).
:func:`generate_due_reports` is idempotent: a period already stored is skipped.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from caseflow.analysis.reports import due_periods, generate_due_reports

from .context import job_app

log = logging.getLogger(__name__)

__all__ = ["generate_due_reports", "enqueue_due_reports", "generate_due", "generate_report"]


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


def enqueue_due_reports(session: Session, now: datetime, queue: Any = None) -> int:
    """Enqueue :func:`generate_due` when a report is due (sweeper housekeeping step); returns 0 or 1."""
    due = due_periods(session, now)
    if not due:
        return 0
    if queue is None:
        from flask import current_app

        from caseflow.extensions import get_queue

        queue = get_queue(current_app.config.get("DEFAULT_QUEUE", "default"))
    job_id = "reports-" + "-".join(f"{p.kind}{p.first_day:%Y%m%d}" for p in due)
    existing = queue.fetch_job(job_id)
    if existing is not None:
        status = existing.get_status(refresh=True)
        # A "queued" job hash whose queue lost it (flushed, deleted) must not block a new one.
        if status in ("started", "scheduled", "deferred") or (
            status == "queued" and queue.get_job_position(job_id) is not None
        ):
            return 0
    queue.enqueue("caseflow.jobs.reports.generate_due", job_id=job_id, job_timeout=1800, result_ttl=86400)
    return 1
