"""Put a deadline on RQ's scheduler after commit; Redis is only the alarm clock."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from flask import current_app

from caseflow.extensions import get_queue

FIRE_JOB = "caseflow.jobs.deadlines.fire_deadline"


def deadline_job_id(deadline_id: int) -> str:
    """Deterministic job id: re-scheduling replaces, never duplicates (no colons: RQ 2)."""
    return f"deadline-{deadline_id}"


def ceil_second(t: datetime) -> datetime:
    """RQ's scheduler keeps whole seconds; round up so a job is never due before its row."""
    ts = t.timestamp()
    return datetime.fromtimestamp(math.ceil(ts), tz=timezone.utc)


def schedule_deadline(deadline_id: int, due_at: datetime) -> None:
    """Schedule the firing job for ``due_at`` on the deadlines queue."""
    queue = get_queue(current_app.config["DEADLINE_QUEUE"])
    queue.enqueue_at(
        ceil_second(due_at),
        FIRE_JOB,
        deadline_id,
        job_id=deadline_job_id(deadline_id),
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        job_timeout=120,
    )


def enqueue_now(deadline_id: int) -> None:
    """Run the firing job as soon as a worker is free (used by the sweeper)."""
    queue = get_queue(current_app.config["DEADLINE_QUEUE"])
    queue.enqueue(FIRE_JOB, deadline_id, job_id=deadline_job_id(deadline_id), result_ttl=3600,
                  failure_ttl=7 * 24 * 3600, job_timeout=120)


def seconds_until(t: datetime, now: datetime) -> float:
    """Seconds from ``now`` to ``t`` (negative when past)."""
    return (t - now) / timedelta(seconds=1)
