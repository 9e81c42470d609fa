"""Scheduling deadline jobs: what RQ's ``enqueue_at`` writes, in one Redis round trip."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import redis
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from caseflow.deadlines.scheduling import (
    FIRE_JOB,
    JOB_OPTIONS,
    ceil_second,
    deadline_job_id,
    schedule_deadline,
    schedule_deadlines,
)
from caseflow.extensions import get_queue

# Ids no test's deadline rows reach: these jobs are ours alone, and deleted at the end.
REFERENCE, OURS, SECOND = 9_100_001, 9_100_002, 9_100_003


def _count_round_trips(monkeypatch) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Count direct Redis commands and pipeline executions from here on."""
    counts = {"commands": 0, "pipelines": 0}
    direct, execute = redis.Redis.execute_command, redis.client.Pipeline.execute

    def command(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        counts["commands"] += 1
        return direct(self, *args, **kwargs)

    def pipeline(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        counts["pipelines"] += 1
        return execute(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "execute_command", command)  # the pipeline has its own
    monkeypatch.setattr(redis.client.Pipeline, "execute", pipeline)
    return counts


def test_scheduled_jobs_match_enqueue_at_in_one_round_trip(app_ctx, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    queue = get_queue(app_ctx.config["DEADLINE_QUEUE"])
    conn = queue.connection
    due = datetime.now(timezone.utc).replace(microsecond=250_000) + timedelta(hours=2)
    ids = [deadline_job_id(i) for i in (REFERENCE, OURS, SECOND)]
    try:
        # The reference: RQ's own enqueue_at, as the scheduler and the sweeper expect it.
        queue.enqueue_at(ceil_second(due), FIRE_JOB, REFERENCE, job_id=ids[0], **JOB_OPTIONS)
        counts = _count_round_trips(monkeypatch)
        schedule_deadlines([(OURS, due), (SECOND, due + timedelta(minutes=5))])
        assert counts == {"commands": 0, "pipelines": 1}
        monkeypatch.undo()

        registry = ScheduledJobRegistry(queue=queue)
        assert registry.get_scheduled_time(ids[1]) == registry.get_scheduled_time(ids[0]) == ceil_second(due)
        assert registry.get_scheduled_time(ids[2]) == ceil_second(due + timedelta(minutes=5))
        assert conn.sismember(queue.redis_queues_keys, queue.key)
        reference, ours = Job.fetch(ids[0], connection=conn), Job.fetch(ids[1], connection=conn)
        assert set(conn.hkeys(ours.key)) == set(conn.hkeys(reference.key))
        for job, deadline_id in ((reference, REFERENCE), (ours, OURS)):
            assert job.get_status() == JobStatus.SCHEDULED
            assert (job.func_name, job.args, job.origin) == (FIRE_JOB, (deadline_id,), queue.name)
            assert (job.timeout, job.result_ttl, job.failure_ttl) == (
                JOB_OPTIONS["job_timeout"], JOB_OPTIONS["result_ttl"], JOB_OPTIONS["failure_ttl"])
        assert conn.ttl(ours.key) == conn.ttl(reference.key) == -1  # kept until it runs

        # One deadline alone: one round trip too (enqueue_at takes two).
        counts = _count_round_trips(monkeypatch)
        schedule_deadline(OURS, due + timedelta(hours=1))  # re-scheduling replaces, never duplicates
        assert counts == {"commands": 0, "pipelines": 1}
        monkeypatch.undo()
        assert registry.get_scheduled_time(ids[1]) == ceil_second(due + timedelta(hours=1))
        assert sum(1 for job_id in registry.get_job_ids() if job_id in ids) == 3
    finally:
        for job_id in ids:
            conn.zrem(ScheduledJobRegistry(queue=queue).key, job_id)
            conn.delete(Job.key_for(job_id))
