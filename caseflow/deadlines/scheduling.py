"""Put a deadline on RQ's scheduler after commit; Redis is only the alarm clock."""
from __future__ import annotations

import math
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import current_app
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.utils import now, utcformat

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
    schedule_deadlines([(deadline_id, due_at)])


def schedule_deadlines(due: list[tuple[int, datetime]]) -> None:
    """Schedule firing jobs in one Redis round trip (a transaction's armed deadlines).

    Writes what ``Queue.enqueue_at`` writes for each job (the queue in ``rq:queues``, the job
    hash with status ``scheduled`` and its TTLs, the job in the queue's scheduled registry
    scored by its whole-second due time), all in one MULTI/EXEC pipeline: RQ 2's
    ``ScheduledJobRegistry.schedule`` ignores the pipeline it is handed and adds each job to
    the registry in a round trip of its own, before the pipeline with the job hash runs.
    """
    if not due:
        return
    queue = get_queue(current_app.config["DEADLINE_QUEUE"])
    registry_key = ScheduledJobRegistry(queue=queue).key
    with queue.connection.pipeline() as pipe:
        pipe.sadd(queue.redis_queues_keys, queue.key)
        for deadline_id, due_at in due:
            job_id = deadline_job_id(deadline_id)
            # The job hash as RQ's save writes it (its status included: no HSET of its own);
            # a fire job has no TTL, so cleanup has nothing to do.
            pipe.hset(Job.key_for(job_id), mapping=_job_hash(queue, deadline_id))
            pipe.zadd(registry_key, {job_id: int(ceil_second(due_at).timestamp())})
        pipe.execute()


def _rq_job(queue: Queue, deadline_id: int) -> Job:
    return queue.create_job(FIRE_JOB, args=(deadline_id,), job_id=deadline_job_id(deadline_id),
                            status=JobStatus.SCHEDULED, timeout=JOB_OPTIONS["job_timeout"],
                            result_ttl=JOB_OPTIONS["result_ttl"], failure_ttl=JOB_OPTIONS["failure_ttl"])


# Per queue name: the hash fields every fire job shares (taken from a job RQ built), or None
# when the shortcut did not reproduce RQ's own hash (then RQ builds every job).
_TEMPLATES: dict[tuple[Any, ...], dict[str, Any] | None] = {}
_PER_JOB = ("created_at", "data", "description")


def _job_hash(queue: Queue, deadline_id: int) -> dict[str, Any]:
    """What ``Job.to_dict()`` gives for the deadline's fire job, built without a ``Job``.

    Creating an RQ ``Job`` per deadline (argument parsing, timeouts, the full ``to_dict``) was
    a tenth of a transition's after-commit work. Fire jobs differ only in their creation time,
    their pickled call and its description, so those three are made here and the rest copied
    from a job RQ built. The first use in a process checks the result against RQ's own hash
    (all but the creation time) and falls back to RQ for good if they differ (an RQ upgrade).
    """
    key = (queue.name, queue.serializer, *JOB_OPTIONS.items())
    if key not in _TEMPLATES:
        reference = _rq_job(queue, deadline_id).to_dict()
        template = {k: v for k, v in reference.items() if k not in _PER_JOB}
        made = {**template, **_per_job_fields(queue, deadline_id)}
        same = {k: v for k, v in made.items() if k != "created_at"} == \
            {k: v for k, v in reference.items() if k != "created_at"} and made.keys() == reference.keys()
        _TEMPLATES[key] = template if same else None
        return reference
    template = _TEMPLATES[key]
    if template is None:
        return _rq_job(queue, deadline_id).to_dict()
    return {**template, **_per_job_fields(queue, deadline_id)}


def _per_job_fields(queue: Queue, deadline_id: int) -> dict[str, Any]:
    return {
        "created_at": utcformat(now()),
        "data": zlib.compress(queue.serializer.dumps((FIRE_JOB, None, (deadline_id,), {}))),
        "description": f"{FIRE_JOB}({deadline_id!r})",
    }


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
