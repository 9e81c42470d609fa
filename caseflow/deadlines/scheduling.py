"""Put a deadline on RQ's scheduler after commit; Redis is only the alarm clock."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from flask import current_app

from caseflow.extensions import get_queue

FIRE_JOB = "caseflow.jobs.deadlines.fire_deadline"


# Results are kept an hour (enough to look at); failures a week, for the console's list.
JOB_OPTIONS: dict[str, int] = {"result_ttl": 3600, "failure_ttl": 7 * 24 * 3600, "job_timeout": 120}


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
    queue.enqueue_at(ceil_second(due_at), FIRE_JOB, deadline_id, job_id=deadline_job_id(deadline_id),
                     **JOB_OPTIONS)


def schedule_deadlines(due: list[tuple[int, datetime]]) -> None:
    """Schedule many firing jobs in one Redis pipeline (a transaction's armed deadlines)."""
    if len(due) == 1:
        schedule_deadline(*due[0])
        return
    queue = get_queue(current_app.config["DEADLINE_QUEUE"])
    with queue.connection.pipeline() as pipe:
        for deadline_id, due_at in due:
            queue.enqueue_at(ceil_second(due_at), FIRE_JOB, deadline_id,
                             job_id=deadline_job_id(deadline_id), pipeline=pipe, **JOB_OPTIONS)
        pipe.execute()


def enqueue_now(deadline_id: int) -> None:
    """Run the firing job as soon as a worker is free (used by the sweeper)."""
    queue = get_queue(current_app.config["DEADLINE_QUEUE"])
    queue.enqueue(FIRE_JOB, deadline_id, job_id=deadline_job_id(deadline_id), **JOB_OPTIONS)


def seconds_until(t: datetime, now: datetime) -> float:
    """Seconds from ``now`` to ``t`` (negative when past)."""
    return (t - now) / timedelta(seconds=1)


def unschedule(deadline_ids: list[int]) -> None:
    """Drop the RQ jobs of deadlines that are already settled (fired or closed by a batch).

    One pipeline: take each job off the queue and the scheduled registry and delete it. A job
    a worker has already taken runs anyway and finds its row settled, which is harmless.
    """
    if not deadline_ids:
        return
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    queue = get_queue(current_app.config["DEADLINE_QUEUE"])
    scheduled = ScheduledJobRegistry(queue=queue)
    with queue.connection.pipeline(transaction=False) as pipe:
        for deadline_id in deadline_ids:
            job_id = deadline_job_id(deadline_id)
            pipe.lrem(queue.key, 0, job_id)
            pipe.zrem(scheduled.key, job_id)
            pipe.delete(Job.key_for(job_id))
        pipe.execute()


def backlog() -> int:
    """Jobs waiting on the deadlines queue: due deadlines no worker has taken yet."""
    return int(get_queue(current_app.config["DEADLINE_QUEUE"]).count)
